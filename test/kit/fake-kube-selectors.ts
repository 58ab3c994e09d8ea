import type { KubernetesObject } from '@kubernetes/client-node';

/** Decides whether one stored object is visible to a list or watch request. */
export type ObjectFilter = (object: KubernetesObject) => boolean;

/**
 * Equality-based label selectors (`k=v`, `k==v`, `k!=v`, `k`, `!k`, comma = AND), the subset the
 * proxy and client-node send. Set-based forms (`k in (a,b)`) are rejected loudly rather than
 * silently matching everything, so a test never passes on a selector we do not understand.
 */
export function parseLabelSelector(selector: string | undefined): ObjectFilter {
  const requirements = splitTerms(selector).map(parseLabelTerm);
  return (object) => {
    const labels = object.metadata?.labels ?? {};
    return requirements.every((matches) => matches(labels));
  };
}

/**
 * Field selectors as the API server reads them: `path=value`, `path==value`, `path!=value` on a
 * dotted JSON path (`metadata.name`, `metadata.namespace`, `status.phase`, ...).
 */
export function parseFieldSelector(selector: string | undefined): ObjectFilter {
  const requirements = splitTerms(selector).map((term) => {
    const { key, operator, value } = splitComparison(term, 'field');
    return (object: KubernetesObject) => {
      const actual = readPath(object, key) ?? '';
      return operator === '!=' ? actual !== value : actual === value;
    };
  });
  return (object) => requirements.every((matches) => matches(object));
}

type LabelRequirement = (labels: Record<string, string>) => boolean;

function parseLabelTerm(term: string): LabelRequirement {
  if (/\s(in|notin)\s|\(/.test(term)) throw new Error(`Unsupported set-based label selector: ${term}`);
  if (term.startsWith('!')) {
    const key = term.slice(1);
    return (labels) => !(key in labels);
  }
  if (!/[=!]/.test(term)) return (labels) => term in labels;
  const { key, operator, value } = splitComparison(term, 'label');
  return operator === '!=' ? (labels) => labels[key] !== value : (labels) => labels[key] === value;
}

function splitTerms(selector: string | undefined): string[] {
  return (selector ?? '')
    .split(',')
    .map((term) => term.trim())
    .filter((term) => term.length > 0);
}

function splitComparison(term: string, kind: string): { key: string; operator: '=' | '!='; value: string } {
  const match = /^([^=!\s]+)\s*(==|=|!=)\s*(.*)$/.exec(term);
  if (!match) throw new Error(`Invalid ${kind} selector term: ${term}`);
  const [, key, operator, value] = match;
  return { key, operator: operator === '!=' ? '!=' : '=', value };
}

/** A scalar field's value as text; like the API server, objects and arrays are not selectable. */
function readPath(object: KubernetesObject, path: string): string | undefined {
  let current: unknown = object;
  for (const segment of path.split('.')) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<string, unknown>)[segment];
  }
  switch (typeof current) {
    case 'string':
      return current;
    case 'number':
    case 'boolean':
    case 'bigint':
      return String(current);
    default:
      return undefined;
  }
}
