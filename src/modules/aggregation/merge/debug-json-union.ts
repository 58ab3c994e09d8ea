import { CopyFacts, LiveCopyTally } from './live-copy.js';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * Merges the JSON bodies of a union debug path. Arrays concatenate (syncz de-duplicated on
 * (`cluster_id`, `proxy`), keeping the live copy), `{totalClients, clients}` sums and concatenates
 * (adsz, connections), other objects are merged key by key (instancesz is keyed by proxy ID; the
 * first replica wins a clash). Bodies that are not JSON (an error text) contribute nothing.
 * Returns undefined when none parsed. `log` receives the duplicate summary.
 */
export function unionDebugBodies(path: string, bodies: string[], log: (message: string) => void = () => undefined): Json | undefined {
  const parsed = bodies.map(tryParse).filter((value): value is Json => value !== undefined && value !== null);
  if (parsed.length === 0) return undefined;
  if (parsed.every(Array.isArray)) return path === 'syncz' ? unionSyncStatuses(parsed as Json[][], log) : (parsed as Json[][]).flat();
  const objects = parsed.filter(isObject);
  if (objects.length === 0) return parsed[0];
  if (objects.some((o) => Array.isArray(o.clients))) return mergeClientLists(objects);
  return Object.assign({}, ...[...objects].reverse()) as Json;
}

interface SyncStatusCopy extends CopyFacts {
  entry: Json;
}

/**
 * istiod's SyncStatus entries, one per connection: `{cluster_id, proxy, cluster_sent, cluster_acked,
 * listener_sent, ...}`. A proxy is (`cluster_id`, `proxy`). A type whose `_sent` nonce differs from
 * its `_acked` one is what istioctl prints as STALE. Nonces begin with the push version
 * (`<RFC 3339 time>/<counter>`), the only push time the body carries. Entries without a `proxy`
 * are kept as they are.
 */
function unionSyncStatuses(arrays: Json[][], log: (message: string) => void): Json[] {
  // Output order is first appearance; a proxy's slot holds all its copies until they are resolved.
  const slots: Array<{ kept: Json } | { copies: SyncStatusCopy[] }> = [];
  const byProxy = new Map<string, SyncStatusCopy[]>();
  for (const entry of arrays.flat()) {
    if (!isObject(entry) || typeof entry.proxy !== 'string') {
      slots.push({ kept: entry });
      continue;
    }
    const key = JSON.stringify([typeof entry.cluster_id === 'string' ? entry.cluster_id : '', entry.proxy]);
    const copy = { entry, ...syncStatusFacts(entry) };
    const copies = byProxy.get(key);
    if (copies) {
      copies.push(copy);
    } else {
      const slot = { copies: [copy] };
      byProxy.set(key, slot.copies);
      slots.push(slot);
    }
  }
  const tally = new LiveCopyTally();
  const merged = slots.map((slot) => ('copies' in slot ? tally.resolve(slot.copies).entry : slot.kept));
  const summary = tally.describe('internal-debug syncz', 'push (sent nonce)');
  if (summary) log(summary);
  return merged;
}

const SENT_SUFFIX = '_sent';
const ACKED_SUFFIX = '_acked';
const PUSH_VERSION_TIME = /^(\d{4}-\d{2}-\d{2}T[^/]+)\//;

function syncStatusFacts(entry: { [key: string]: Json }): CopyFacts {
  let stale = false;
  let lastUpdatedMs = 0;
  for (const [field, sent] of Object.entries(entry)) {
    if (!field.endsWith(SENT_SUFFIX) || typeof sent !== 'string' || sent === '') continue;
    if (entry[`${field.slice(0, -SENT_SUFFIX.length)}${ACKED_SUFFIX}`] !== sent) stale = true;
    const pushed = PUSH_VERSION_TIME.exec(sent);
    const pushedMs = pushed ? Date.parse(pushed[1]) : Number.NaN;
    if (Number.isFinite(pushedMs)) lastUpdatedMs = Math.max(lastUpdatedMs, pushedMs);
  }
  return { stale, lastUpdatedMs };
}

function mergeClientLists(objects: Array<{ [key: string]: Json }>): Json {
  const clients = objects.flatMap((o) => (Array.isArray(o.clients) ? o.clients : []));
  const totalClients = objects.reduce((sum, o) => sum + (typeof o.totalClients === 'number' ? o.totalClients : 0), 0);
  return { totalClients, clients };
}

function isObject(value: Json): value is { [key: string]: Json } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function tryParse(body: string): Json | undefined {
  try {
    return JSON.parse(body) as Json;
  } catch {
    return undefined;
  }
}
