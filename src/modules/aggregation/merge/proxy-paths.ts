import { DiscoveryRequest, ProtoAny } from '../../../common/xds-types.js';
import { InstanceAnswer, InstanceError } from '../fanout-result.js';
import { InstanceHealthRecord } from '../instance-health.js';
import { CLIENT_CONFIG_TYPE_URL, tryReadClientConfigKey } from './client-config-reader.js';
import { readProxySyncStatus } from './client-config-status.js';
import { parseIdentifier } from './control-plane.js';
import { tryParse } from './debug-json-union.js';
import { DebugPath, ISTIOCTL_PROXY_PATHS } from './debug-path.js';

/**
 * `istio.io/debug` paths the proxy answers itself (docs/protocol.md §5.8), from every replica's
 * `istio.io/debug/syncz` asked with the caller's own token, so istiod's namespace filter applies:
 *
 * - `istioctl-proxy/locate?proxyID=<pod>.<ns>[&cluster=<id>]`: which replicas hold that proxy.
 * - `istioctl-proxy/replicas`: each replica's version, revision, proxy count and last outcome.
 */
export const SYNCZ_TYPE_URL = 'istio.io/debug/syncz';
/** istiod's own text for a proxy-scoped path without `proxyID` (debug.go). */
export const MISSING_PROXY_ID_BODY = 'You must provide a proxyID in the query string\n';

/** What every replica is asked for an `istioctl-proxy/…` path: its syncz, as `proxy-status` asks it. */
export function proxyPathUpstreamRequest(request: DiscoveryRequest): DiscoveryRequest {
  return { ...request, type_url: SYNCZ_TYPE_URL, resource_names: [] };
}

export interface ProxyPathInput {
  debugPath: DebugPath;
  /** Replicas that answered, in pod-name order. */
  answers: readonly InstanceAnswer[];
  /** Replicas that failed (PARTIAL_RESULTS=allow), in pod-name order. */
  failed: readonly InstanceError[];
  /** What the replica did on its last requests (InstanceHealth), when known. */
  health?: (replica: string) => InstanceHealthRecord;
}

/** The body of an `istioctl-proxy/…` path: JSON, indented with `?pretty`, or istiod's missing-proxyID text. */
export function answerProxyPath(input: ProxyPathInput): string {
  const { debugPath } = input;
  if (debugPath.path === 'istioctl-proxy/replicas') return render(replicasDocument(input), debugPath.pretty);
  const proxy = debugPath.query.get('proxyID');
  if (!proxy) return MISSING_PROXY_ID_BODY;
  return render(locateDocument(input, proxy, debugPath.query.get('cluster') ?? undefined), debugPath.pretty);
}

interface LocateEntry {
  istiod: string;
  cluster_id: string;
  istio_version: string;
  last_updated: string | null;
  types: Record<string, string>;
}

/**
 * `{"proxy", "replicas": [...]}`: every replica whose syncz lists `proxy` (exactly that `<pod>.<ns>`),
 * in pod-name order, one entry per cluster on a replica (the same pod.ns may run in two clusters).
 * During a reconnect two replicas hold the proxy; the dead copy shows STALE types. `missing` names
 * the replicas that did not answer, only when some did not.
 */
function locateDocument({ answers, failed }: ProxyPathInput, proxy: string, cluster: string | undefined): object {
  const replicas: LocateEntry[] = [];
  for (const { instance, response } of answers) {
    const found: LocateEntry[] = [];
    for (const resource of response.resources) {
      const key = tryReadClientConfigKey(resource);
      if (!key || key.nodeId !== proxy || (cluster !== undefined && key.clusterId !== cluster)) continue;
      const status = statusOf(resource);
      if (!status) continue;
      const { clusterId, istioVersion, lastUpdated, types } = status;
      found.push({ istiod: instance.name, cluster_id: clusterId, istio_version: istioVersion, last_updated: lastUpdated, types });
    }
    replicas.push(...found.sort((a, b) => compare(a.cluster_id, b.cluster_id)));
  }
  return { proxy, replicas, ...missingOf(failed) };
}

interface ReplicaEntry {
  istiod: string;
  outcome: 'answered' | 'failed';
  version?: string;
  revision?: string;
  proxies?: number;
  latency_ms?: number;
  error?: string;
  last_answer_at?: string;
  last_error_at?: string;
  last_error?: string;
}

/**
 * `{"replicas": [...]}` in pod-name order: version and revision from each replica's syncz
 * `control_plane` identifier, how many proxies its syncz lists (as this caller may see them), this
 * request's outcome, and the last answer/error InstanceHealth remembers for it.
 */
function replicasDocument({ answers, failed, health }: ProxyPathInput): object {
  const entries: Array<{ name: string; entry: ReplicaEntry }> = [];
  for (const { instance, response, latencyMs } of answers) {
    const info = parseIdentifier(response.control_plane?.identifier)?.Info ?? {};
    const proxies = response.resources.filter((resource) => resource.type_url === CLIENT_CONFIG_TYPE_URL).length;
    entries.push({
      name: instance.name,
      entry: {
        istiod: instance.name,
        outcome: 'answered',
        version: info.version ?? '',
        revision: info.revision ?? '',
        proxies,
        latency_ms: latencyMs,
        ...lastOutcome(health?.(instance.name)),
      },
    });
  }
  for (const { instance, error } of failed) {
    const entry: ReplicaEntry = { istiod: instance.name, outcome: 'failed', error: `${error.reason}: ${error.message}` };
    entries.push({ name: instance.name, entry: { ...entry, ...lastOutcome(health?.(instance.name)) } });
  }
  entries.sort((a, b) => compare(a.name, b.name)); // pod-name order, as discovery sorts (istiod-instance.ts byName)
  return { replicas: entries.map(({ entry }) => entry) };
}

function lastOutcome(record: InstanceHealthRecord | undefined): Partial<ReplicaEntry> {
  if (!record) return {};
  return {
    ...(record.lastAnswerAt && { last_answer_at: record.lastAnswerAt }),
    ...(record.lastErrorAt && { last_error_at: record.lastErrorAt }),
    ...(record.lastError && { last_error: record.lastError }),
  };
}

function missingOf(failed: readonly InstanceError[]): { missing?: string[] } {
  return failed.length > 0 ? { missing: failed.map(({ instance }) => instance.name) } : {};
}

/**
 * istiod's `list` (a JSON array of path names) with the proxy's own paths added, so
 * `istioctl x internal-debug --list` shows them. Any other body is returned unchanged.
 */
export function listWithProxyPaths(body: string, pretty: boolean): string {
  const parsed = tryParse(body);
  if (!Array.isArray(parsed) || !parsed.every((item) => typeof item === 'string')) return body;
  const paths = [...new Set([...parsed, ...ISTIOCTL_PROXY_PATHS])].sort();
  return render(paths, pretty);
}

function render(value: unknown, pretty: boolean): string {
  return pretty ? `${JSON.stringify(value, null, 2)}\n` : JSON.stringify(value);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function statusOf(resource: ProtoAny): ReturnType<typeof readProxySyncStatus> | undefined {
  try {
    return readProxySyncStatus(resource.value);
  } catch {
    return undefined;
  }
}
