import { timestampMillis, type DiscoveryResponse } from '../../src/common/xds-types.js';
import { shortType } from '../../src/modules/aggregation/merge/client-config-status.js';
import { humanDuration } from './go-time.js';
import { parseNodeMetadata } from './node-metadata.js';
import { controlPlaneInfo, decodeClientConfigs, type ClientConfig, type GenericXdsConfig } from './xds-decoders.js';

const TYPE_PREFIX = 'type.googleapis.com/';
export const CLUSTER_TYPE = `${TYPE_PREFIX}envoy.config.cluster.v3.Cluster`;
export const LISTENER_TYPE = `${TYPE_PREFIX}envoy.config.listener.v3.Listener`;
export const ENDPOINT_TYPE = `${TYPE_PREFIX}envoy.config.endpoint.v3.ClusterLoadAssignment`;
export const ROUTE_TYPE = `${TYPE_PREFIX}envoy.config.route.v3.RouteConfiguration`;
export const EXTENSION_CONFIG_TYPE = `${TYPE_PREFIX}envoy.config.core.v3.TypedExtensionConfig`;

/** istio `model.GetShortType`: the proxy's own mapping; anything else prints as its full type URL. */
export { shortType };

/** The legacy column order istioctl keeps first; other types follow sorted by URL. */
const CORE_ORDER = [CLUSTER_TYPE, LISTENER_TYPE, ENDPOINT_TYPE, ROUTE_TYPE];
/** Types `-v 1` always shows (status.go `getAllKnownXdsTypes`). */
export const KNOWN_TYPES = [...CORE_ORDER, EXTENSION_CONFIG_TYPE];

const LEGACY_ONEOF_TYPES: Record<string, string> = {
  listener_config: LISTENER_TYPE,
  cluster_config: CLUSTER_TYPE,
  route_config: ROUTE_TYPE,
  endpoint_config: ENDPOINT_TYPE,
};

export const IGNORED_STATUS = 'IGNORED';

export interface ProxyStatusRow {
  proxyId: string;
  clusterId: string;
  istiodId: string;
  istioVersion: string;
  /** type URL → cell text (`SYNCED (5m)`, `NOT SENT`, `IGNORED`, …). */
  typeStatus: Map<string, string>;
}

export interface ProxyStatusTable {
  rows: ProxyStatusRow[];
  /** Every type seen, core types first in legacy order, then the rest by URL. */
  types: string[];
}

/** status.go `setupStatusPrint`: one row per ClientConfig, optionally filtered by proxy namespace. */
export function proxyStatusTable(response: DiscoveryResponse, now: Date, namespace?: string): ProxyStatusTable {
  const istiodId = controlPlaneInfo(response).ID;
  const seen = new Set<string>();
  const rows: ProxyStatusRow[] = [];
  for (const config of decodeClientConfigs(response)) {
    let meta;
    try {
      meta = parseNodeMetadata(config.node?.metadata);
    } catch (error) {
      throw new Error(`could not parse node metadata: ${(error as Error).message}`, { cause: error });
    }
    if (namespace && meta.namespace !== namespace) continue;
    const typeStatus = new Map<string, string>();
    for (const xds of genericConfigs(config)) {
      seen.add(xds.type_url);
      typeStatus.set(xds.type_url, statusCell(xds, now));
    }
    rows.push({ proxyId: config.node?.id ?? '', clusterId: meta.clusterId, istiodId, istioVersion: meta.istioVersion, typeStatus });
  }
  // istioctl sorts by NAME only (sort.Slice, not stable); CLUSTER breaks ties so the same pod
  // name in two clusters always prints in the same order.
  rows.sort((a, b) => compareStrings(a.proxyId, b.proxyId) || compareStrings(a.clusterId, b.clusterId));
  const core = CORE_ORDER.filter((type) => seen.has(type));
  const extras = [...seen].filter((type) => !CORE_ORDER.includes(type)).sort(compareStrings);
  return { rows, types: [...core, ...extras] };
}

/** Go compares strings bytewise; for the ASCII names here that is code-unit order. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

type StatusSource = Pick<GenericXdsConfig, 'type_url' | 'config_status' | 'last_updated'>;

/** New-style generic configs, or the deprecated per-type ones istiod ≤1.22 sends. */
function genericConfigs(config: ClientConfig): StatusSource[] {
  if (config.generic_xds_configs.length > 0) return config.generic_xds_configs;
  return config.xds_config.flatMap((legacy) => {
    const typeUrl = legacy.per_xds_config ? LEGACY_ONEOF_TYPES[legacy.per_xds_config] : undefined;
    return typeUrl ? [{ type_url: typeUrl, config_status: legacy.status, last_updated: null }] : [];
  });
}

/** status.go `formatStatus`. */
export function statusCell(config: StatusSource, now: Date): string {
  switch (config.config_status) {
    case 'UNKNOWN':
      return IGNORED_STATUS;
    case 'NOT_SENT':
      return 'NOT SENT';
    default: {
      const age = config.last_updated ? ` (${humanDuration(now.getTime() - exactMillis(config.last_updated))})` : '';
      return `${config.config_status}${age}`;
    }
  }
}

function exactMillis(timestamp: NonNullable<GenericXdsConfig['last_updated']>): number {
  return timestampMillis({ seconds: timestamp.seconds, nanos: 0 }) + (timestamp.nanos ?? 0) / 1e6;
}
