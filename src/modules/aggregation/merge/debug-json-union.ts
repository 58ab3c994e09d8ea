type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * Merges the JSON bodies of a union debug path. Arrays concatenate (syncz de-duplicated on
 * `proxy`), `{totalClients, clients}` sums and concatenates (adsz, connections), other objects are
 * merged key by key (instancesz is keyed by proxy ID; the first replica wins a clash).
 * Bodies that are not JSON (an error text) contribute nothing. Returns undefined when none parsed.
 */
export function unionDebugBodies(path: string, bodies: string[]): Json | undefined {
  const parsed = bodies.map(tryParse).filter((value): value is Json => value !== undefined && value !== null);
  if (parsed.length === 0) return undefined;
  if (parsed.every(Array.isArray)) return concatArrays(path, parsed as Json[][]);
  const objects = parsed.filter(isObject);
  if (objects.length === 0) return parsed[0];
  if (objects.some((o) => Array.isArray(o.clients))) return mergeClientLists(objects);
  return Object.assign({}, ...[...objects].reverse()) as Json;
}

function concatArrays(path: string, arrays: Json[][]): Json[] {
  const all = arrays.flat();
  if (path !== 'syncz') return all;
  const seen = new Set<string>();
  return all.filter((entry) => {
    const proxy = isObject(entry) && typeof entry.proxy === 'string' ? entry.proxy : undefined;
    if (proxy === undefined) return true;
    if (seen.has(proxy)) return false;
    seen.add(proxy);
    return true;
  });
}

function mergeClientLists(objects: Array<{ [key: string]: Json }>): Json {
  const clients = objects.flatMap((o) => (Array.isArray(o.clients) ? o.clients : []));
  const totalClients = objects.reduce((sum, o) => sum + (typeof o.totalClients === 'number' ? o.totalClients : 0), 0);
  return { totalClients, clients };
}

function isObject(value: Json): value is { [key: string]: Json } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function tryParse(body: string): Json | undefined {
  try {
    return JSON.parse(body) as Json;
  } catch {
    return undefined;
  }
}
