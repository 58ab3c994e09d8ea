import { gzipSync } from 'node:zlib';
import {
  adsClients,
  configDumpJson,
  configs,
  endpointsJson,
  instancesByProxy,
  meshConfig,
  nameTableJson,
  pushStatus,
  registry,
  remoteClusters,
  syncStatuses,
  type MeshView,
  type SimulatedConnection,
} from './debug-documents.js';
import { XDS_TYPE_URLS, serviceNameOf } from './simulated-proxy.js';

/** The three error texts istiod writes as bodies (the HTTP status is lost on the xDS path). */
export const NOT_CONNECTED_BODY = 'Proxy not connected to this Pilot instance. It may be connected to another instance.\n';
export const MISSING_PROXY_ID_BODY = 'You must provide a proxyID in the query string\n';
export const NOT_FOUND_BODY = '404 page not found\n';

/** Paths istiod's debug generator serves to callers outside its own namespace. */
export const NAMESPACE_SCOPED_DEBUG_PATHS: ReadonlySet<string> = new Set(['config_dump', 'ndsz', 'edsz']);

type Document = string | object;

interface DebugRequest {
  query: URLSearchParams;
  view: MeshView;
  /** The connection named by `?proxyID=`, found by substring like istiod's `getProxyConnection`. */
  target?: SimulatedConnection;
}

type Handler = (request: DebugRequest) => Document;

/** Handlers that need `?proxyID=` and answer with istiod's error texts when it is absent or unknown. */
const PROXY_SCOPED: Record<string, (target: SimulatedConnection, request: DebugRequest) => Document> = {
  config_dump: ({ proxy }, { view }) => configDumpJson(proxy, view.now),
  edsz: ({ proxy }) => endpointsJson(proxy),
  ndsz: ({ proxy }, { view }) => nameTableJson(proxy, view),
  ecdsz: () => [],
  sidecarz: ({ proxy }) => ({
    name: 'default-sidecar',
    namespace: proxy.namespace,
    outboundTrafficPolicy: { mode: 'ALLOW_ANY' },
    services: [`${serviceNameOf(proxy)}.${proxy.namespace}.svc.cluster.local`],
  }),
  force_disconnect: () => 'OK',
};

const MESH_WIDE: Record<string, Handler> = {
  syncz: ({ view }) => syncStatuses(view),
  adsz: ({ query, view, target }) => {
    if (query.get('push')) return `Pushed to ${view.connections.length} servers\n`;
    return adsClients(target ? [target] : view.connections, true);
  },
  connections: ({ view }) => adsClients(view.connections, false),
  instancesz: ({ view }) => instancesByProxy(view),
  configz: ({ view }) => configs(view),
  registryz: ({ view }) => registry(view),
  mesh: ({ view }) => meshConfig(view),
  push_status: ({ view }) => pushStatus(view),
  telemetryz: ({ target }) => (target ? { telemetry: [], proxy: target.proxy.id } : { telemetry: [] }),
  cachez: ({ query, view }) =>
    query.get('clear') ? 'Cache cleared\n' : { [XDS_TYPE_URLS.CDS]: view.connections.length, [XDS_TYPE_URLS.LDS]: view.connections.length },
  krtz: () => [],
  resourcesz: () => [
    { group: 'networking.istio.io', version: 'v1', kind: 'VirtualService' },
    { group: 'networking.istio.io', version: 'v1', kind: 'DestinationRule' },
    { group: 'security.istio.io', version: 'v1', kind: 'PeerAuthentication' },
  ],
  inject: () => ({ templates: ['sidecar', 'gateway'], values: {} }),
  clusterz: ({ view }) => remoteClusters(view),
  networkz: () => [],
  mcsz: () => [],
  endpointShardz: () => ({}),
  endpointz: () => [],
  ambientz: () => [],
  authorizationz: () => ({ authorization_policies: { namespaceToPolicies: {} } }),
  pushcontext: ({ view }) => ({ version: view.version }),
};

export function debugPathOf(resourceName: string): string {
  return resourceName.split('?')[0];
}

function render(document: Document, pretty: boolean): string {
  if (typeof document === 'string') return document;
  return pretty ? JSON.stringify(document, null, 2) : JSON.stringify(document);
}

function findConnection(view: MeshView, proxyId: string | null): SimulatedConnection | undefined {
  if (!proxyId) return undefined;
  return view.connections.find((connection) => connection.connectionId.includes(proxyId));
}

/** The raw body istiod's `/debug/<resourceName>` handler writes. */
export function debugBody(resourceName: string, view: MeshView, overrides: Record<string, string> = {}): string {
  const path = debugPathOf(resourceName);
  if (path in overrides) return overrides[path];
  const query = new URLSearchParams(resourceName.slice(path.length + 1));
  const proxyId = query.get('proxyID');
  const target = findConnection(view, proxyId);
  const pretty = query.has('pretty');

  const proxyScoped = PROXY_SCOPED[path];
  if (proxyScoped) {
    if (!proxyId) return MISSING_PROXY_ID_BODY;
    return target ? render(proxyScoped(target, { query, view, target }), pretty) : NOT_CONNECTED_BODY;
  }
  if (path === 'list') return render(debugPaths(overrides), pretty);
  const handler = MESH_WIDE[path];
  if (!handler) return NOT_FOUND_BODY;
  if (path === 'adsz' && proxyId && !target) return NOT_CONNECTED_BODY;
  return render(handler({ query, view, target }), pretty);
}

/** What `/debug/list` answers: every path but itself, sorted. */
export function debugPaths(overrides: Record<string, string> = {}): string[] {
  return [...new Set([...Object.keys(PROXY_SCOPED), ...Object.keys(MESH_WIDE), ...Object.keys(overrides)])]
    .filter((path) => path !== 'list')
    .sort();
}

/** Go's net/http/pprof profiles that a `seconds` query turns into a delta over that long. */
const PPROF_PROFILES = ['allocs', 'block', 'goroutine', 'heap', 'mutex', 'threadcreate'];
const PPROF_INDEX = `<html>\n<head>\n<title>/debug/pprof/</title>\n</head>\n<body>\n/debug/pprof/\n</body>\n</html>\n`;

/**
 * How long istiod takes to answer a path, in ms: `pprof/profile` samples the CPU for `seconds`
 * (default 30), `pprof/trace` records for `seconds` (default 1); everything else answers at once.
 */
export function debugRunMs(resourceName: string): number {
  const path = debugPathOf(resourceName).replace(/^\/?(debug\/)?/, '');
  const defaults: Record<string, number> = { 'pprof/profile': 30, 'pprof/trace': 1 };
  if (!(path in defaults)) return 0;
  const query = resourceName.includes('?') ? resourceName.slice(resourceName.indexOf('?') + 1) : '';
  const seconds = Number(new URLSearchParams(query).get('seconds') ?? Number.NaN);
  return (Number.isFinite(seconds) && seconds > 0 ? seconds : defaults[path]) * 1000;
}

/**
 * `/debug/pprof/*` bodies (Go's net/http/pprof, which istiod registers with ENABLE_PROFILING):
 * profiles are gzipped protobuf, so binary; here gzip of a line naming the replica, which tests
 * can unpack. Undefined for paths that are not pprof.
 */
export function profileBody(resourceName: string, view: MeshView): Buffer | undefined {
  const path = debugPathOf(resourceName).replace(/^\/?(debug\/)?/, '');
  if (path !== 'pprof' && !path.startsWith('pprof/')) return undefined;
  const name = path.slice('pprof/'.length).replace(/\/$/, '');
  const sample = (kind: string) => gzipSync(`simulated ${kind} profile of ${view.podName} (${debugRunMs(resourceName) / 1000} s)\n`);
  if (name === '') return Buffer.from(PPROF_INDEX);
  if (name === 'cmdline') return Buffer.from('pilot-discovery\x00discovery');
  if (name === 'symbol') return Buffer.from('num_symbols: 1\n');
  if (name === 'profile') return sample('cpu');
  if (name === 'trace') return Buffer.concat([Buffer.from('go 1.24 trace\x00\x00\x00'), sample('trace')]);
  if (PPROF_PROFILES.includes(name)) return sample(name);
  return Buffer.from('Unknown profile\n');
}
