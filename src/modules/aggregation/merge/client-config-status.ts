import protobuf from 'protobufjs';
import { WIRE_LENGTH_DELIMITED, WIRE_VARINT, endOf } from '../../../common/protobuf-wire.js';
import { CLIENT_CONFIG, GENERIC_XDS_CONFIG, NODE, PER_XDS_CONFIG, readStructString, readTimestamp } from './client-config-reader.js';

const TYPE_PREFIX = 'type.googleapis.com/';
const CLUSTER_TYPE = `${TYPE_PREFIX}envoy.config.cluster.v3.Cluster`;
const LISTENER_TYPE = `${TYPE_PREFIX}envoy.config.listener.v3.Listener`;
const ROUTE_TYPE = `${TYPE_PREFIX}envoy.config.route.v3.RouteConfiguration`;
const ENDPOINT_TYPE = `${TYPE_PREFIX}envoy.config.endpoint.v3.ClusterLoadAssignment`;

/** istio's `GetShortType` (as istioctl prints types): anything else keeps its type URL. */
const SHORT_TYPES: Readonly<Record<string, string>> = {
  [CLUSTER_TYPE]: 'CDS',
  [LISTENER_TYPE]: 'LDS',
  [ROUTE_TYPE]: 'RDS',
  [ENDPOINT_TYPE]: 'EDS',
  [`${TYPE_PREFIX}envoy.extensions.transport_sockets.tls.v3.Secret`]: 'SDS',
  [`${TYPE_PREFIX}istio.networking.nds.v1.NameTable`]: 'NDS',
  [`${TYPE_PREFIX}istio.mesh.v1alpha1.ProxyConfig`]: 'PCDS',
  [`${TYPE_PREFIX}envoy.config.core.v3.TypedExtensionConfig`]: 'ECDS',
  [`${TYPE_PREFIX}istio.workload.Address`]: 'WDS',
  [`${TYPE_PREFIX}istio.workload.Workload`]: 'WDS',
  [`${TYPE_PREFIX}istio.security.Authorization`]: 'WADS',
};

/** The deprecated `xds_config` entries (PerXdsConfig) name their type by which oneof field is set. */
const LEGACY_ONEOF_TYPES: Readonly<Record<number, string>> = {
  2: LISTENER_TYPE, // listener_config
  3: CLUSTER_TYPE, // cluster_config
  4: ROUTE_TYPE, // route_config
  6: ENDPOINT_TYPE, // endpoint_config
};

/** envoy.service.status.v3.ConfigStatus, by number. */
const CONFIG_STATUS_NAMES = ['UNKNOWN', 'SYNCED', 'NOT_SENT', 'STALE', 'ERROR'];

export function shortType(typeUrl: string): string {
  return SHORT_TYPES[typeUrl] ?? typeUrl;
}

/** One proxy as one replica reports it in syncz, in the words of `istioctl-proxy/locate`. */
export interface ProxySyncStatus {
  nodeId: string;
  /** `node.metadata.CLUSTER_ID`, '' when absent. */
  clusterId: string;
  /** The proxy's own `ISTIO_VERSION`, '' when absent. */
  istioVersion: string;
  /** RFC 3339 (millisecond precision) of max(generic_xds_configs[].last_updated); null when no type has one (istiod ≤ 1.22). */
  lastUpdated: string | null;
  /** Short type (`CDS`, or the type URL when istio has no short name) → `SYNCED`, `STALE`, `NOT_SENT`, `ERROR`, `UNKNOWN`. */
  types: Record<string, string>;
}

/**
 * Reads the fields `istioctl-proxy/locate` shows from one syncz ClientConfig, straight from the wire
 * like client-config-reader.ts (no proto files to load at run time). Only for the few ClientConfigs a
 * lookup matched; the bulk of a syncz answer is only keyed.
 */
export function readProxySyncStatus(bytes: Uint8Array): ProxySyncStatus {
  const reader = protobuf.Reader.create(bytes);
  const status: ProxySyncStatus = { nodeId: '', clusterId: '', istioVersion: '', lastUpdated: null, types: {} };
  let newestMs: number | undefined;
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    const wireType = tag & 7;
    if (wireType !== WIRE_LENGTH_DELIMITED) {
      reader.skipType(wireType);
    } else if (tag >>> 3 === CLIENT_CONFIG.node) {
      readNode(reader, endOf(reader), status);
    } else if (tag >>> 3 === CLIENT_CONFIG.xdsConfig) {
      const { typeUrl, configStatus } = readLegacyConfig(reader, endOf(reader));
      if (typeUrl) status.types[shortType(typeUrl)] = configStatus;
    } else if (tag >>> 3 === CLIENT_CONFIG.genericXdsConfigs) {
      const { typeUrl, configStatus, lastUpdatedMs } = readGenericConfig(reader, endOf(reader));
      status.types[shortType(typeUrl)] = configStatus;
      if (lastUpdatedMs !== undefined && (newestMs === undefined || lastUpdatedMs > newestMs)) newestMs = lastUpdatedMs;
    } else {
      reader.skipType(wireType);
    }
  }
  status.lastUpdated = newestMs === undefined ? null : rfc3339(newestMs);
  return status;
}

function readNode(reader: protobuf.Reader, end: number, status: ProxySyncStatus): void {
  while (reader.pos < end) {
    const tag = reader.uint32();
    const isBytes = (tag & 7) === WIRE_LENGTH_DELIMITED;
    if (isBytes && tag >>> 3 === NODE.id) {
      status.nodeId = reader.string();
    } else if (isBytes && tag >>> 3 === NODE.metadata) {
      const metadataEnd = endOf(reader);
      const start = reader.pos;
      status.clusterId = readStructString(reader, metadataEnd, 'CLUSTER_ID') ?? status.clusterId;
      reader.pos = start;
      status.istioVersion = readStructString(reader, metadataEnd, 'ISTIO_VERSION') ?? status.istioVersion;
    } else {
      reader.skipType(tag & 7);
    }
  }
}

function readGenericConfig(reader: protobuf.Reader, end: number): { typeUrl: string; configStatus: string; lastUpdatedMs?: number } {
  let typeUrl = '';
  let configStatus = 0;
  let lastUpdatedMs: number | undefined;
  while (reader.pos < end) {
    const tag = reader.uint32();
    const field = tag >>> 3;
    const wireType = tag & 7;
    if (field === GENERIC_XDS_CONFIG.typeUrl && wireType === WIRE_LENGTH_DELIMITED) typeUrl = reader.string();
    else if (field === GENERIC_XDS_CONFIG.lastUpdated && wireType === WIRE_LENGTH_DELIMITED)
      lastUpdatedMs = readTimestamp(reader, endOf(reader));
    else if (field === GENERIC_XDS_CONFIG.configStatus && wireType === WIRE_VARINT) configStatus = reader.int32();
    else reader.skipType(wireType);
  }
  return { typeUrl, configStatus: statusName(configStatus), lastUpdatedMs };
}

/** A deprecated PerXdsConfig: its status, and its type from the oneof field that is set. */
function readLegacyConfig(reader: protobuf.Reader, end: number): { typeUrl?: string; configStatus: string } {
  let typeUrl: string | undefined;
  let configStatus = 0;
  while (reader.pos < end) {
    const tag = reader.uint32();
    const field = tag >>> 3;
    if (field === PER_XDS_CONFIG.status && (tag & 7) === WIRE_VARINT) {
      configStatus = reader.int32();
    } else {
      typeUrl = LEGACY_ONEOF_TYPES[field] ?? typeUrl;
      reader.skipType(tag & 7);
    }
  }
  return { typeUrl, configStatus: statusName(configStatus) };
}

function statusName(value: number): string {
  return CONFIG_STATUS_NAMES[value] ?? String(value);
}

/** As protojson writes a Timestamp, to the millisecond: UTC, `Z`, no fraction for whole seconds. Null past JS dates. */
export function rfc3339(ms: number): string | null {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? null : date.toISOString().replace(/\.000Z$/, 'Z');
}
