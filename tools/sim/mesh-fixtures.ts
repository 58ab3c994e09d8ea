import { createHash } from 'node:crypto';
import type { SimulatedIstiodOptions } from './istiod-simulator.js';
import { XDS_TYPE_URLS, podIpOf, watchedTypes, type SimulatedProxy, type SimulatedProxyType } from './simulated-proxy.js';

export const CURRENT_ISTIO_VERSION = '1.27.3';
export const PREVIOUS_ISTIO_VERSION = '1.26.1';

const MINUTE_MS = 60_000;

type DemoIstiodOptions = Pick<SimulatedIstiodOptions, 'podName' | 'version' | 'proxies' | 'knobs'>;

function minutesBefore(now: Date, minutes: number): Date {
  return new Date(now.getTime() - minutes * MINUTE_MS);
}

/** The four types every sidecar subscribes to, all acknowledged `minutesAgo` minutes ago. */
function syncedTypes(now: Date, minutesAgo: number, extra: SimulatedProxyType[] = []): SimulatedProxyType[] {
  const lastUpdated = minutesBefore(now, minutesAgo);
  return [
    { typeUrl: XDS_TYPE_URLS.CDS, status: 'SYNCED', lastUpdated },
    { typeUrl: XDS_TYPE_URLS.LDS, status: 'SYNCED', lastUpdated },
    { typeUrl: XDS_TYPE_URLS.EDS, status: 'SYNCED', lastUpdated },
    { typeUrl: XDS_TYPE_URLS.RDS, status: 'SYNCED', lastUpdated },
    ...extra,
  ];
}

function proxy(id: string, istioVersion: string, types: SimulatedProxyType[]): SimulatedProxy {
  return { id, namespace: id.slice(id.lastIndexOf('.') + 1), istioVersion, types };
}

/**
 * Three replicas of one external control plane, as the demo and e2e tests run them: two on 1.27.3,
 * one left on 1.26.1 (mixed `Info.version`); sidecars with mixed ISTIO_VERSIONs; reviews-v2 NACKs a
 * listener; httpbin reconnected from the third replica to the second, so the third still reports it
 * with older pushes.
 */
export function buildDemoMesh({ now = new Date() }: { now?: Date } = {}): DemoIstiodOptions[] {
  const nackedListener: SimulatedProxyType = {
    typeUrl: XDS_TYPE_URLS.LDS,
    status: 'ERROR',
    lastUpdated: minutesBefore(now, 1),
    errorDetails:
      "Error adding/updating listener(s) 0.0.0.0_9080: Didn't find a registered implementation for 'envoy.filters.http.wasm_legacy' with type URL: ''",
  };
  const reviewsV2Types = syncedTypes(now, 4).map((type) => (type.typeUrl === XDS_TYPE_URLS.LDS ? nackedListener : type));
  const wasmFilter: SimulatedProxyType = { typeUrl: XDS_TYPE_URLS.ECDS, status: 'SYNCED', lastUpdated: minutesBefore(now, 9) };

  return [
    {
      podName: 'istiod-7d4b9c8f6-abcde',
      version: CURRENT_ISTIO_VERSION,
      proxies: [
        proxy('istio-ingressgateway-5d8f7b6c4-hx2lp.istio-system', CURRENT_ISTIO_VERSION, syncedTypes(now, 2)),
        proxy('productpage-v1-6b746f74dc-9stvs.bookinfo', CURRENT_ISTIO_VERSION, syncedTypes(now, 3, [wasmFilter])),
        proxy('reviews-v1-545db77b95-2qxgw.bookinfo', CURRENT_ISTIO_VERSION, syncedTypes(now, 3)),
        proxy('ratings-v1-5f9699cfdf-8dbvk.bookinfo', CURRENT_ISTIO_VERSION, syncedTypes(now, 7)),
        proxy('sleep-7b9f8c6d5-q4wzn.default', PREVIOUS_ISTIO_VERSION, syncedTypes(now, 12)),
      ],
    },
    {
      podName: 'istiod-7d4b9c8f6-x2k4q',
      version: CURRENT_ISTIO_VERSION,
      proxies: [
        proxy('details-v1-79f774bdb9-kqv2m.bookinfo', PREVIOUS_ISTIO_VERSION, syncedTypes(now, 5)),
        proxy('reviews-v2-7bf8c9648f-t7jzk.bookinfo', CURRENT_ISTIO_VERSION, reviewsV2Types),
        proxy('reviews-v3-84779c7bbc-wb6cl.bookinfo', CURRENT_ISTIO_VERSION, syncedTypes(now, 6)),
        proxy('httpbin-65c4d5c8f-nfx7b.default', CURRENT_ISTIO_VERSION, syncedTypes(now, 1)),
      ],
    },
    {
      podName: 'istiod-6f5d8c9b7-m7nq2',
      version: PREVIOUS_ISTIO_VERSION,
      proxies: [
        // The connection httpbin left when it reconnected to istiod-7d4b9c8f6-x2k4q: older pushes.
        proxy('httpbin-65c4d5c8f-nfx7b.default', CURRENT_ISTIO_VERSION, syncedTypes(now, 42)),
        proxy('curl-5b8d7c9f6-hm2xp.legacy', PREVIOUS_ISTIO_VERSION, syncedTypes(now, 8)),
        proxy('legacy-api-7f6c5d9b8-zr4tp.legacy', '1.25.2', [
          ...syncedTypes(now, 15).filter((type) => type.typeUrl !== XDS_TYPE_URLS.RDS),
          { typeUrl: XDS_TYPE_URLS.RDS, status: 'STALE', lastUpdated: minutesBefore(now, 15) },
        ]),
        proxy('istio-eastwestgateway-6c7d8f9b5-w4r8t.istio-system', PREVIOUS_ISTIO_VERSION, [
          { typeUrl: XDS_TYPE_URLS.CDS, status: 'SYNCED', lastUpdated: minutesBefore(now, 20) },
          { typeUrl: XDS_TYPE_URLS.LDS, status: 'SYNCED', lastUpdated: minutesBefore(now, 20) },
          { typeUrl: XDS_TYPE_URLS.EDS, status: 'SYNCED', lastUpdated: minutesBefore(now, 20) },
          { typeUrl: XDS_TYPE_URLS.RDS, status: 'NOT_SENT' },
        ]),
      ],
    },
  ];
}

export const EAST_CLUSTER = 'east';
export const WEST_CLUSTER = 'west';
/** A StatefulSet pod: its name is the same in every cluster that runs the StatefulSet. */
export const POD_IN_BOTH_CLUSTERS = 'mongodb-0.bookinfo';
/** The proxy whose old connection is still held, STALE, by the third replica of the multicluster mesh. */
export const RECONNECTED_WITH_STALE_COPY = 'details-v1-79f774bdb9-kqv2m.bookinfo';

/**
 * The connection a proxy left behind when it reconnected to another replica: istiod keeps pushing
 * to it until it notices the connection is gone, and those pushes are never acknowledged. So its
 * last_updated is newer than the live copy's, and the types pushed since are STALE.
 */
export function deadCopyOf(proxy: SimulatedProxy, now: Date, minutesAgo = 1): SimulatedProxy {
  const lastUpdated = minutesBefore(now, minutesAgo);
  const types = watchedTypes(proxy).map((type): SimulatedProxyType => {
    if (type.status === 'NOT_SENT') return type;
    return {
      ...type,
      status: type.typeUrl === XDS_TYPE_URLS.EDS || type.typeUrl === XDS_TYPE_URLS.RDS ? 'STALE' : type.status,
      lastUpdated,
    };
  });
  return { ...proxy, types };
}

/**
 * The demo mesh as an external control plane serving two clusters, `east` (bookinfo and the
 * ingress gateway) and `west` (the rest): every replica holds proxies of both. `mongodb-0.bookinfo`
 * runs in both clusters (two different proxies with one node.id); details reconnected from the third
 * replica to the second, which left a dead STALE copy with newer pushes on the third; the third
 * replica's informer for `west` timed out (clusterz differs per replica), and the second marshals
 * node metadata in another order (as Go's random map order does).
 */
export function buildMulticlusterMesh({ now = new Date() }: { now?: Date } = {}): DemoIstiodOptions[] {
  const [first, second, third] = buildDemoMesh({ now }).map((istiod) => ({
    ...istiod,
    proxies: (istiod.proxies ?? []).map((proxy): SimulatedProxy => ({ ...proxy, clusterId: clusterOf(proxy) })),
  }));
  const mongodb = (clusterId: string, minutesAgo: number): SimulatedProxy => ({
    ...proxy(POD_IN_BOTH_CLUSTERS, CURRENT_ISTIO_VERSION, syncedTypes(now, minutesAgo)),
    clusterId,
  });
  first.proxies.push(mongodb(EAST_CLUSTER, 2));
  second.proxies.push(mongodb(WEST_CLUSTER, 6));
  const details = second.proxies.find(({ id }) => id === RECONNECTED_WITH_STALE_COPY);
  if (!details) throw new Error(`the second replica holds no ${RECONNECTED_WITH_STALE_COPY}`);
  third.proxies.unshift(deadCopyOf(details, now));
  return [
    { ...first, knobs: { clusterSync: { [EAST_CLUSTER]: 'synced', [WEST_CLUSTER]: 'synced' } } },
    { ...second, knobs: { clusterSync: { [EAST_CLUSTER]: 'synced', [WEST_CLUSTER]: 'synced' }, reverseMetadataOrder: true } },
    { ...third, knobs: { clusterSync: { [EAST_CLUSTER]: 'synced', [WEST_CLUSTER]: 'timeout' } } },
  ];
}

function clusterOf(proxy: SimulatedProxy): string {
  return proxy.namespace === 'bookinfo' || proxy.id.startsWith('istio-ingressgateway') ? EAST_CLUSTER : WEST_CLUSTER;
}

/** A `<pod>.<ns>` that only the third replica holds: config_dump must find it behind the proxy. */
export function findPodOnThird(istiods: Pick<SimulatedIstiodOptions, 'proxies'>[]): string {
  const elsewhere = new Set(istiods.slice(0, 2).flatMap(({ proxies = [] }) => proxies.map(({ id }) => id)));
  const only = (istiods[2]?.proxies ?? []).find(({ id }) => !elsewhere.has(id));
  if (!only) throw new Error('the third istiod holds no proxy of its own');
  return only.id;
}

export interface GeneratedProxyOptions {
  namespace?: string;
  version?: string;
  prefix?: string;
  now?: Date;
}

function shortHash(seed: string, length: number): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  const digest = createHash('sha256').update(seed).digest();
  return [...digest.subarray(0, length)].map((byte) => alphabet[byte % alphabet.length]).join('');
}

/**
 * Node metadata a sidecar really sends istiod, which istiod's syncz omits; carried here only to make
 * each ClientConfig about 2 KB, the size large-mesh benchmarks should push through the proxy.
 */
function benchmarkMetadata(proxy: SimulatedProxy, workload: string): Record<string, string> {
  return {
    INSTANCE_IPS: podIpOf(proxy),
    INTERCEPTION_MODE: 'REDIRECT',
    MESH_ID: 'cluster.local',
    NODE_NAME: `gke-prod-pool-1-${shortHash(proxy.id, 8)}`,
    OWNER: `kubernetes://apis/apps/v1/namespaces/${proxy.namespace}/deployments/${workload}`,
    WORKLOAD_NAME: workload,
    SERVICE_ACCOUNT: workload,
    APP_CONTAINERS: workload,
    POD_PORTS: '[{"name":"http","containerPort":8080,"protocol":"TCP"},{"name":"metrics","containerPort":9090,"protocol":"TCP"}]',
    LABELS: JSON.stringify({
      app: workload,
      version: 'v1',
      'pod-template-hash': shortHash(`${proxy.id}/rs`, 10),
      'security.istio.io/tlsMode': 'istio',
      'service.istio.io/canonical-name': workload,
      'service.istio.io/canonical-revision': 'v1',
    }),
    ANNOTATIONS: JSON.stringify({
      'istio.io/rev': 'default',
      'kubectl.kubernetes.io/default-container': workload,
      'kubectl.kubernetes.io/default-logs-container': workload,
      'prometheus.io/path': '/stats/prometheus',
      'prometheus.io/port': '15020',
      'prometheus.io/scrape': 'true',
      'sidecar.istio.io/status':
        '{"initContainers":["istio-init"],"containers":["istio-proxy"],"volumes":["workload-socket","credential-socket","workload-certs","istio-envoy","istio-data","istio-podinfo","istio-token","istiod-ca-cert"],"imagePullSecrets":null,"revision":"default"}',
    }),
    PROXY_CONFIG: JSON.stringify({
      binaryPath: '/usr/local/bin/envoy',
      concurrency: 2,
      configPath: './etc/istio/proxy',
      controlPlaneAuthPolicy: 'MUTUAL_TLS',
      discoveryAddress: 'istiod.istio-system.svc:15012',
      drainDuration: '45s',
      proxyAdminPort: 15000,
      serviceCluster: 'istio-proxy',
      statNameLength: 189,
      statusPort: 15020,
      terminationDrainDuration: '5s',
    }),
  };
}

/** `count` sidecars for large-mesh tests and benchmarks, with deterministic realistic names. */
export function generateProxies(
  count: number,
  { namespace = 'default', version = CURRENT_ISTIO_VERSION, prefix = 'app', now = new Date() }: GeneratedProxyOptions = {},
): SimulatedProxy[] {
  return Array.from({ length: count }, (_, index) => {
    const workload = `${prefix}-${index}`;
    const id = `${workload}-${shortHash(`${namespace}/${workload}`, 10)}-${shortHash(`${namespace}/${workload}/pod`, 5)}.${namespace}`;
    const lastUpdated = minutesBefore(now, (index % 30) + 1);
    const proxyConfig: SimulatedProxy = {
      id,
      namespace,
      istioVersion: version,
      types: [
        ...syncedTypes(now, (index % 30) + 1),
        { typeUrl: XDS_TYPE_URLS.ECDS, status: 'SYNCED', lastUpdated },
        { typeUrl: XDS_TYPE_URLS.NDS, status: 'SYNCED', lastUpdated },
      ],
    };
    proxyConfig.extraMetadata = benchmarkMetadata(proxyConfig, workload);
    return proxyConfig;
  });
}
