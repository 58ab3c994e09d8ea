import { createHash } from 'node:crypto';
import { typeUrlOf } from '../../src/common/proto.js';

export type SimulatedConfigStatus = 'SYNCED' | 'NOT_SENT' | 'STALE' | 'ERROR';

export interface SimulatedProxyType {
  typeUrl: string;
  status: SimulatedConfigStatus;
  /** Last push time. Unset: "now" at answer time, except NOT_SENT, which has none (nothing was sent). */
  lastUpdated?: Date;
  /** The NACK text, reported for ERROR. */
  errorDetails?: string;
}

/** A sidecar/gateway connected to the simulated istiod; nothing is dialled, it is pure data. */
export interface SimulatedProxy {
  /** `<pod>.<ns>`, the third field of the proxy's node id. */
  id: string;
  namespace: string;
  istioVersion: string;
  /** Default `Kubernetes`. */
  clusterId?: string;
  /** Default: CDS, LDS, EDS, RDS all SYNCED. */
  types?: SimulatedProxyType[];
  clusters?: string[];
  listeners?: string[];
  routes?: string[];
  secrets?: string[];
  /**
   * Extra ClientConfig node metadata. Real istiod sends only CLUSTER_ID, NAMESPACE and ISTIO_VERSION;
   * this exists to size answers realistically in benchmarks.
   */
  extraMetadata?: Record<string, string>;
}

export const XDS_TYPE_URLS = {
  CDS: typeUrlOf('envoy.config.cluster.v3.Cluster'),
  LDS: typeUrlOf('envoy.config.listener.v3.Listener'),
  EDS: typeUrlOf('envoy.config.endpoint.v3.ClusterLoadAssignment'),
  RDS: typeUrlOf('envoy.config.route.v3.RouteConfiguration'),
  ECDS: typeUrlOf('envoy.config.core.v3.TypedExtensionConfig'),
  SDS: typeUrlOf('envoy.extensions.transport_sockets.tls.v3.Secret'),
  NDS: typeUrlOf('istio.networking.nds.v1.NameTable'),
} as const;

export const DEFAULT_CLUSTER_ID = 'Kubernetes';

/** The order istiod ≤1.22 reported, whatever the proxy watched. */
export const LEGACY_SYNCZ_TYPE_URLS = [XDS_TYPE_URLS.CDS, XDS_TYPE_URLS.LDS, XDS_TYPE_URLS.EDS, XDS_TYPE_URLS.RDS, XDS_TYPE_URLS.ECDS];

const DEFAULT_WATCHED_TYPES = [XDS_TYPE_URLS.CDS, XDS_TYPE_URLS.LDS, XDS_TYPE_URLS.EDS, XDS_TYPE_URLS.RDS];

export function watchedTypes(proxy: SimulatedProxy): SimulatedProxyType[] {
  return proxy.types ?? DEFAULT_WATCHED_TYPES.map((typeUrl) => ({ typeUrl, status: 'SYNCED' as const }));
}

/** When istiod last pushed this type, or undefined if it never did. */
export function lastPushTime(type: SimulatedProxyType, now: Date): Date | undefined {
  if (type.lastUpdated) return type.lastUpdated;
  return type.status === 'NOT_SENT' ? undefined : now;
}

export function podNameOf(proxy: SimulatedProxy): string {
  const suffix = `.${proxy.namespace}`;
  return proxy.id.endsWith(suffix) ? proxy.id.slice(0, -suffix.length) : proxy.id;
}

/** The Kubernetes service a pod belongs to, guessed from its name (`reviews-v1-7d8f9-abcde` -> `reviews`). */
export function serviceNameOf(proxy: SimulatedProxy): string {
  return podNameOf(proxy).split('-')[0];
}

/** A stable pod IP in 10.244.0.0/16, so repeated answers agree with each other. */
export function podIpOf(proxy: SimulatedProxy): string {
  const digest = createHash('sha256').update(proxy.id).digest();
  return `10.244.${digest[0]}.${(digest[1] % 254) + 1}`;
}

export function clustersOf(proxy: SimulatedProxy): string[] {
  const service = serviceNameOf(proxy);
  return (
    proxy.clusters ?? [
      'BlackHoleCluster',
      'InboundPassthroughCluster',
      'PassthroughCluster',
      'agent',
      'prometheus_stats',
      'sds-grpc',
      'xds-grpc',
      `inbound|9080||`,
      `outbound|9080||${service}.${proxy.namespace}.svc.cluster.local`,
      'outbound|443||kubernetes.default.svc.cluster.local',
      'outbound|15012||istiod.istio-system.svc.cluster.local',
    ]
  );
}

export function listenersOf(proxy: SimulatedProxy): string[] {
  return proxy.listeners ?? ['virtualOutbound', 'virtualInbound', '0.0.0.0_9080', '10.96.0.1_443'];
}

export function routesOf(proxy: SimulatedProxy): string[] {
  return proxy.routes ?? ['9080', 'InboundPassthroughCluster', `${serviceNameOf(proxy)}.${proxy.namespace}.svc.cluster.local:9080`];
}

export function secretsOf(proxy: SimulatedProxy): string[] {
  return proxy.secrets ?? ['default', 'ROOTCA'];
}
