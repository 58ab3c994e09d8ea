/** How an `istio.io/debug` path is merged (../shared/protocol.md §5; the classes are our contract). */
export type DebugPathClass = 'union' | 'proxy-scoped' | 'mesh-wide' | 'replica-local' | 'action' | 'unknown';

const UNION_PATHS = new Set(['syncz', 'adsz', 'connections', 'instancesz']);
const PROXY_SCOPED_PATHS = new Set(['config_dump', 'edsz', 'ndsz', 'ecdsz', 'sidecarz', 'telemetryz', 'adsz', 'force_disconnect']);
const MESH_WIDE_PATHS = new Set([
  'list',
  'configz',
  'registryz',
  'resourcesz',
  'mesh',
  'inject',
  'clusterz',
  'networkz',
  'mcsz',
  'endpointShardz',
  'endpointz',
  'ambientz',
  'authorizationz',
  'pushcontext',
  'telemetryz',
]);
const REPLICA_LOCAL_PATHS = new Set(['push_status', 'cachez', 'krtz']);

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

function classify(path: string, query: URLSearchParams): DebugPathClass {
  if ((path === 'adsz' && query.get('push') === 'true') || (path === 'cachez' && query.get('clear') === 'true')) return 'action';
  if (query.has('proxyID') && PROXY_SCOPED_PATHS.has(path)) return 'proxy-scoped';
  if (UNION_PATHS.has(path)) return 'union';
  if (MESH_WIDE_PATHS.has(path) || PROXY_SCOPED_PATHS.has(path)) return 'mesh-wide';
  if (REPLICA_LOCAL_PATHS.has(path)) return 'replica-local';
  return 'unknown';
}
