/**
 * Go `json.Indent(dst, src, "", indent)`: re-lays out valid JSON without touching scalars (numbers and
 * strings keep their exact source text, unlike JSON.stringify), `{}`/`[]` stay compact, leading
 * whitespace is dropped and trailing whitespace kept. Returns undefined when `src` is not JSON, where
 * istioctl falls back to printing the raw bytes.
 */
export function goJsonIndent(src: string, indent = '  '): string | undefined {
  try {
    JSON.parse(src);
  } catch {
    return undefined;
  }
  const body = src.trimStart();
  const valueEnd = body.trimEnd().length;
  let out = '';
  let depth = 0;
  let pendingOpen = false; // an opening bracket whose newline waits to see if the container is empty
  let inString = false;
  for (let i = 0; i < valueEnd; i++) {
    const c = body[i];
    if (inString) {
      out += c;
      if (c === '\\') out += body[++i];
      else if (c === '"') inString = false;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') continue;
    if (pendingOpen && c !== '}' && c !== ']') {
      pendingOpen = false;
      depth++;
      out += `\n${indent.repeat(depth)}`;
    }
    switch (c) {
      case '{':
      case '[':
        pendingOpen = true;
        out += c;
        break;
      case ',':
        out += `,\n${indent.repeat(depth)}`;
        break;
      case ':':
        out += ': ';
        break;
      case '}':
      case ']':
        if (pendingOpen) pendingOpen = false;
        else out += `\n${indent.repeat(--depth)}`;
        out += c;
        break;
      case '"':
        inString = true;
        out += c;
        break;
      default:
        out += c;
    }
  }
  return out + body.slice(valueEnd);
}

/** A Go struct as `encoding/json` sees it: field name (or json tag) → string, or a nested struct. */
export interface GoStructSchema {
  [field: string]: 'string' | GoStructSchema;
}

export type GoStructValue = { [field: string]: string | GoStructValue };

/**
 * `json.Unmarshal` into a Go struct: keys match field names case-insensitively (exact match first),
 * unknown keys and `null` leave the zero value, any type mismatch fails the whole decode. Used for the
 * control-plane identifier, whose parse failure istioctl reports as `INVALID`.
 */
export function goUnmarshalStruct(json: string, schema: GoStructSchema): GoStructValue | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return undefined;
  }
  return decodeStruct(parsed, schema);
}

function decodeStruct(value: unknown, schema: GoStructSchema): GoStructValue | undefined {
  const result = zeroValue(schema);
  if (value === null) return result;
  if (typeof value !== 'object' || Array.isArray(value)) return undefined;
  const names = Object.keys(schema);
  for (const [key, item] of Object.entries(value)) {
    const field = names.find((name) => name === key) ?? names.find((name) => name.toLowerCase() === key.toLowerCase());
    if (field === undefined || item === null) continue;
    const type = schema[field];
    if (type === 'string') {
      if (typeof item !== 'string') return undefined;
      result[field] = item;
    } else {
      const nested = decodeStruct(item, type);
      if (!nested) return undefined;
      result[field] = nested;
    }
  }
  return result;
}

function zeroValue(schema: GoStructSchema): GoStructValue {
  const result: GoStructValue = {};
  for (const [field, type] of Object.entries(schema)) result[field] = type === 'string' ? '' : zeroValue(type);
  return result;
}
