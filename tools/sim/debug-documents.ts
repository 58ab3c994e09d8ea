import { createHash } from 'node:crypto';
import {
  DEFAULT_CLUSTER_ID,
  XDS_TYPE_URLS,
  clustersOf,
  lastPushTime,
  podIpOf,
  serviceNameOf,
  watchedTypes,
  type SimulatedProxy,
} from './simulated-proxy.js';
import type { ClusterSyncStatus } from './simulator-knobs.js';

/**
 * The JSON documents behind istiod's `/debug/*` handlers (pilot/pkg/xds/debug.go), reduced to the
 * fields istioctl and the proxy's merge strategies read, with realistic names and shapes.
 */

export interface SimulatedConnection {
  proxy: SimulatedProxy;
  /** `<proxyID>-<n>`, as istiod names connections. */
  connectionId: string;
  connectedAt: Date;
}

export interface MeshView {
  podName: string;
  version: string;
  istiodNamespace: string;
  connections: SimulatedConnection[];
  now: Date;
  /** The `clusterSync` knob: remote-cluster states this replica reports in clusterz. */
  clusterSync?: Record<string, ClusterSyncStatus>;
}

const SERVICE_PORT = { name: 'http', port: 9080, protocol: 'HTTP' };

/** Keys of istiod's SyncStatus JSON for each xDS type (`cluster_sent`, `cluster_acked`, ...). */
const SYNC_STATUS_PREFIXES: Record<string, string> = {
  [XDS_TYPE_URLS.CDS]: 'cluster',
  [XDS_TYPE_URLS.LDS]: 'listener',
  [XDS_TYPE_URLS.RDS]: 'route',
  [XDS_TYPE_URLS.EDS]: 'endpoint',
  [XDS_TYPE_URLS.ECDS]: 'extensionconfig',
};

function fakeNonce(...parts: string[]): string {
  const hex = createHash('sha256').update(parts.join('/')).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

function nodeTypeOf(proxy: SimulatedProxy): string {
  return proxy.id.includes('gateway') ? 'router' : 'sidecar';
}

function hostnameOf(proxy: SimulatedProxy): string {
  return `${serviceNameOf(proxy)}.${proxy.namespace}.svc.cluster.local`;
}

function serviceVipOf(hostname: string): string {
  const digest = createHash('sha256').update(hostname).digest();
  return `10.96.${digest[0]}.${(digest[1] % 254) + 1}`;
}

const PUSH_INTERVAL_MS = 60_000;

/**
 * A push nonce as istiod makes it (xdsgen `nonce`): the push version `<RFC 3339 time>/<counter>`
 * followed by a UUID, so a nonce tells when it was pushed. Deterministic per connection and type.
 */
function pushNonce(pushedAt: Date, ...parts: string[]): string {
  const counter = parseInt(fakeNonce(...parts).slice(0, 3), 16) % 1000;
  return `${pushedAt.toISOString().replace(/\.\d{3}Z$/, 'Z')}/${counter}${fakeNonce(pushedAt.toISOString(), ...parts)}`;
}

/**
 * `/debug/syncz`: istiod's SyncStatus per connection. SYNCED: the acked nonce is the sent one;
 * STALE and ERROR: the proxy last acknowledged an earlier push (istioctl once printed both as STALE).
 */
export function syncStatuses({ connections, now }: MeshView): Record<string, string>[] {
  return connections.map(({ proxy, connectionId }) => {
    const status: Record<string, string> = {
      cluster_id: proxy.clusterId ?? DEFAULT_CLUSTER_ID,
      proxy: proxy.id,
      proxy_type: nodeTypeOf(proxy),
      proxy_version: proxy.istioVersion,
      istio_version: proxy.istioVersion,
    };
    for (const type of watchedTypes(proxy)) {
      const prefix = SYNC_STATUS_PREFIXES[type.typeUrl];
      if (!prefix || type.status === 'NOT_SENT') continue;
      const pushedAt = lastPushTime(type, now) ?? now;
      const sent = pushNonce(pushedAt, connectionId, type.typeUrl);
      status[`${prefix}_sent`] = sent;
      status[`${prefix}_acked`] =
        type.status === 'SYNCED' ? sent : pushNonce(new Date(pushedAt.getTime() - PUSH_INTERVAL_MS), connectionId, type.typeUrl);
    }
    return status;
  });
}

/** `/debug/adsz` (detailed) and `/debug/connections` (brief) share istiod's AdsClients shape. */
export function adsClients(connections: SimulatedConnection[], detailed: boolean): Record<string, unknown> {
  const clients = connections.map(({ proxy, connectionId, connectedAt }) => ({
    connectionId,
    connectedAt: connectedAt.toISOString(),
    address: `${podIpOf(proxy)}:${40000 + (parseInt(fakeNonce(connectionId).slice(0, 4), 16) % 20000)}`,
    ...(detailed && {
      labels: { app: serviceNameOf(proxy), 'security.istio.io/tlsMode': 'istio' },
      metadata: {
        CLUSTER_ID: proxy.clusterId ?? 'Kubernetes',
        NAMESPACE: proxy.namespace,
        ISTIO_VERSION: proxy.istioVersion,
        INSTANCE_IPS: podIpOf(proxy),
        ...proxy.extraMetadata,
      },
      watches: Object.fromEntries(watchedTypes(proxy).map((type) => [type.typeUrl, []])),
    }),
  }));
  return { totalClients: clients.length, ...(clients.length > 0 && { clients }) };
}

function serviceOf(proxy: SimulatedProxy): Record<string, unknown> {
  const hostname = hostnameOf(proxy);
  return {
    Attributes: {
      ServiceRegistry: 'Kubernetes',
      Name: serviceNameOf(proxy),
      Namespace: proxy.namespace,
      Labels: { app: serviceNameOf(proxy) },
      ExportTo: null,
      LabelSelectors: { app: serviceNameOf(proxy) },
    },
    ports: [SERVICE_PORT],
    creationTime: '2026-08-01T09:00:00Z',
    hostname,
    clusterVIPs: { Addresses: { [proxy.clusterId ?? 'Kubernetes']: [serviceVipOf(hostname)] } },
    defaultAddress: serviceVipOf(hostname),
    Resolution: 0,
    MeshExternal: false,
    ResourceVersion: '',
  };
}

export function instancesByProxy({ connections }: MeshView): Record<string, unknown[]> {
  return Object.fromEntries(
    connections.map(({ proxy }) => [proxy.id, [{ Service: serviceOf(proxy), Port: { ServicePort: SERVICE_PORT, TargetPort: 9080 } }]]),
  );
}

export function registry({ connections }: MeshView): Record<string, unknown>[] {
  const byHost = new Map<string, Record<string, unknown>>();
  for (const { proxy } of connections) byHost.set(hostnameOf(proxy), serviceOf(proxy));
  return [...byHost.values()];
}

/** protojson form of the proxy's config dump, as `/debug/config_dump?proxyID=` writes it. */
export function configDumpJson(proxy: SimulatedProxy, now: Date): Record<string, unknown> {
  const version = now.toISOString();
  const typed = (type: string, rest: Record<string, unknown>) => ({ '@type': `type.googleapis.com/envoy.admin.v3.${type}`, ...rest });
  return {
    configs: [
      typed('BootstrapConfigDump', { bootstrap: {} }),
      typed('ClustersConfigDump', {
        versionInfo: version,
        dynamicActiveClusters: clustersOf(proxy).map((name) => ({
          versionInfo: version,
          cluster: { '@type': XDS_TYPE_URLS.CDS, name },
          lastUpdated: version,
        })),
      }),
      typed('ListenersConfigDump', {}),
      typed('ScopedRoutesConfigDump', {}),
      typed('RoutesConfigDump', {}),
      typed('SecretsConfigDump', {}),
      typed('EcdsConfigDump', {}),
    ],
  };
}

export function endpointsJson(proxy: SimulatedProxy): Record<string, unknown>[] {
  return clustersOf(proxy)
    .filter((name) => name.startsWith('outbound|'))
    .map((clusterName) => ({
      clusterName,
      endpoints: [
        {
          locality: {},
          lbEndpoints: [
            {
              endpoint: {
                address: { socketAddress: { address: serviceVipOf(clusterName), portValue: Number(clusterName.split('|')[1]) } },
              },
              healthStatus: 'HEALTHY',
              loadBalancingWeight: 1,
            },
          ],
          loadBalancingWeight: 1,
        },
      ],
    }));
}

export function nameTableJson(proxy: SimulatedProxy, view: MeshView): Record<string, unknown> {
  const table: Record<string, unknown> = {};
  for (const { proxy: peer } of view.connections) {
    if (peer.namespace !== proxy.namespace) continue;
    const hostname = hostnameOf(peer);
    table[hostname] = {
      ips: [serviceVipOf(hostname)],
      registry: 'Kubernetes',
      shortname: serviceNameOf(peer),
      namespace: peer.namespace,
    };
  }
  return { table };
}

export function configs({ connections }: MeshView): Record<string, unknown>[] {
  const namespaces = [...new Set(connections.map(({ proxy }) => proxy.namespace))].sort();
  return namespaces.map((namespace) => ({
    kind: 'PeerAuthentication',
    apiVersion: 'security.istio.io/v1',
    metadata: { name: 'default', namespace, resourceVersion: '1042', creationTimestamp: '2026-08-01T09:00:00Z' },
    spec: { mtls: { mode: 'STRICT' } },
  }));
}

export function meshConfig({ istiodNamespace }: MeshView): Record<string, unknown> {
  return {
    accessLogFile: '/dev/stdout',
    connectTimeout: '10s',
    defaultConfig: {
      discoveryAddress: `istiod.${istiodNamespace}.svc:15012`,
      proxyMetadata: {},
      tracing: { zipkin: { address: 'zipkin.istio-system:9411' } },
    },
    enablePrometheusMerge: true,
    ingressClass: 'istio',
    ingressControllerMode: 'STRICT',
    ingressService: 'istio-ingressgateway',
    protocolDetectionTimeout: '0s',
    rootNamespace: istiodNamespace,
    trustDomain: 'cluster.local',
  };
}

export function pushStatus({ podName, connections, now }: MeshView): Record<string, unknown> {
  return {
    // Not in istiod's document: lets tests tell which replica answered a replica-local path.
    pilot: podName,
    ProxyStatus: {},
    totalEndpoints: connections.length,
    totalServices: new Set(connections.map(({ proxy }) => hostnameOf(proxy))).size,
    Start: new Date(now.getTime() - 5).toISOString(),
    End: now.toISOString(),
  };
}

/**
 * `/debug/clusterz` (`cluster.DebugInfo` per cluster istiod watches): the clusters of this replica's
 * proxies and those named in the `clusterSync` knob, sorted, `synced` unless the knob says otherwise.
 */
export function remoteClusters({ connections, clusterSync = {} }: MeshView): Record<string, string>[] {
  const ids = new Set([...connections.map(({ proxy }) => proxy.clusterId ?? DEFAULT_CLUSTER_ID), ...Object.keys(clusterSync)]);
  if (ids.size === 0) ids.add(DEFAULT_CLUSTER_ID);
  return [...ids].sort().map((id) => ({
    id,
    secretName: id === DEFAULT_CLUSTER_ID ? '' : `istio-remote-secret-${id}`,
    syncStatus: clusterSync[id] ?? 'synced',
  }));
}
