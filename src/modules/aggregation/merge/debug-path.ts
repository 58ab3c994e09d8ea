/**
 * How an `istio.io/debug` path is merged (docs/protocol.md §5.6; the classes are our choice, not Istio's):
 * `replica-local` bodies are answered labelled by replica, `profile` paths go to one replica only,
 * `istioctl-proxy` paths are answered by the proxy itself from every replica's syncz.
 */
export type DebugPathClass = 'union' | 'proxy-scoped' | 'mesh-wide' | 'replica-local' | 'profile' | 'action' | 'istioctl-proxy' | 'unknown';

/** The paths the proxy serves itself (proxy-paths.ts); any other `istioctl-proxy/…` path is istiod's (a 404). */
export const ISTIOCTL_PROXY_PATHS: readonly string[] = ['istioctl-proxy/locate', 'istioctl-proxy/replicas'];

const UNION_PATHS = new Set(['syncz', 'adsz', 'connections', 'instancesz']);
const PROXY_SCOPED_PATHS = new Set(['config_dump', 'edsz', 'ndsz', 'ecdsz', 'sidecarz', 'telemetryz', 'adsz', 'force_disconnect']);
const MESH_WIDE_PATHS = new Set([
  'list',
  'configz',
  'registryz',
  'resourcesz',
  'mesh',
  'inject',
  'networkz',
  'mcsz',
  'endpointShardz',
  'endpointz',
  'ambientz',
  'authorizationz',
  'pushcontext',
  'telemetryz',
]);
/** Each replica's own state (clusterz: its remote-cluster informers), so every replica's body is shown. */
const REPLICA_LOCAL_PATHS = new Set(['clusterz', 'push_status', 'cachez', 'krtz']);
/** Go's net/http/pprof: `profile` samples for `seconds` (default 30), `trace` records for `seconds` (default 1). */
const PROFILE_PATH = /^pprof(\/|$)/;
const DEFAULT_PROFILE_SECONDS: Record<string, number> = { 'pprof/profile': 30, 'pprof/trace': 1 };

export interface DebugPath {
  path: string;
  query: URLSearchParams;
  pathClass: DebugPathClass;
  pretty: boolean;
}

/** Parses the resource name istioctl sends (`syncz`, `config_dump?proxyID=x.ns`, `/debug/adsz`...). */
export function parseDebugPath(resourceName: string): DebugPath {
  const [rawPath, rawQuery = ''] = resourceName.split(/\?(.*)/s, 2);
  const path = rawPath.replace(/^\/?(debug\/)?/, '').replace(/\/$/, '');
  const query = new URLSearchParams(rawQuery);
  return { path, query, pathClass: classify(path, query), pretty: query.has('pretty') };
}

/** How long a profile path runs before it answers, in ms: its `seconds` query, else Go's default (0 for instant ones). */
export function profileRunMs({ path, query }: DebugPath): number {
  const seconds = Number(query.get('seconds') ?? Number.NaN);
  const run = Number.isFinite(seconds) && seconds > 0 ? seconds : (DEFAULT_PROFILE_SECONDS[path] ?? 0);
  return run * 1000;
}

function classify(path: string, query: URLSearchParams): DebugPathClass {
  if (ISTIOCTL_PROXY_PATHS.includes(path)) return 'istioctl-proxy';
  if (PROFILE_PATH.test(path)) return 'profile';
  if ((path === 'adsz' && query.get('push') === 'true') || (path === 'cachez' && query.get('clear') === 'true')) return 'action';
  if (query.has('proxyID') && PROXY_SCOPED_PATHS.has(path)) return 'proxy-scoped';
  if (UNION_PATHS.has(path)) return 'union';
  if (MESH_WIDE_PATHS.has(path) || PROXY_SCOPED_PATHS.has(path)) return 'mesh-wide';
  if (REPLICA_LOCAL_PATHS.has(path)) return 'replica-local';
  return 'unknown';
}
