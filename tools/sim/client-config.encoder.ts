import protobuf from 'protobufjs';
import { envoyTypes, typeUrlOf } from '../../src/common/proto.js';
import type { ProtoAny } from '../../src/common/xds-types.js';
import {
  DEFAULT_CLUSTER_ID,
  LEGACY_SYNCZ_TYPE_URLS,
  XDS_TYPE_URLS,
  clustersOf,
  lastPushTime,
  listenersOf,
  routesOf,
  secretsOf,
  watchedTypes,
  type SimulatedProxy,
} from './simulated-proxy.js';

export const CLIENT_CONFIG_TYPE = 'envoy.service.status.v3.ClientConfig';
export const CLIENT_CONFIG_TYPE_URL = typeUrlOf(CLIENT_CONFIG_TYPE);
/** Node metadata key that carries `paddingBytes`; istioctl ignores unknown keys. */
export const PADDING_METADATA_KEY = 'SIM_PADDING';

const CONFIG_DUMP_TYPES = [
  'BootstrapConfigDump',
  'ClustersConfigDump',
  'ListenersConfigDump',
  'ScopedRoutesConfigDump',
  'RoutesConfigDump',
  'SecretsConfigDump',
  'EcdsConfigDump',
] as const;

interface TimestampObject {
  seconds: number;
  nanos: number;
}

function timestamp(date: Date): TimestampObject {
  const millis = date.getTime();
  return { seconds: Math.floor(millis / 1000), nanos: (millis % 1000) * 1e6 };
}

function stringStructObject(values: Record<string, string>): { fields: Record<string, { stringValue: string }> } {
  const fields: Record<string, { stringValue: string }> = {};
  for (const [key, value] of Object.entries(values)) {
    if (value !== '') fields[key] = { stringValue: value }; // istiod's ToStruct omits empty keys
  }
  return { fields };
}

function encode(typeName: string, object: Record<string, unknown>): Uint8Array {
  const type = envoyTypes().lookupType(typeName);
  return type.encode(type.fromObject(object)).finish();
}

/**
 * A resource Any holding only field 1 (`name`, shared by Cluster, Listener, RouteConfiguration and
 * Secret): the admin protos are vendored without the resource protos, and a name is all istioctl's
 * comparator and our tests look at.
 */
function namedResource(typeUrl: string, name: string): { type_url: string; value: Uint8Array } {
  return { type_url: typeUrl, value: protobuf.Writer.create().uint32(10).string(name).finish() };
}

export interface ClientConfigOptions {
  now: Date;
  /** istiod ≤1.22: fixed CDS/LDS/EDS/RDS/ECDS entries and no `last_updated`. */
  legacy: boolean;
  padding?: string;
  /** Encode node.metadata map entries in reverse order (Go's map order is random). */
  reverseMetadata?: boolean;
}

function genericXdsConfigs(proxy: SimulatedProxy, { now, legacy }: ClientConfigOptions): Record<string, unknown>[] {
  const types = watchedTypes(proxy);
  if (legacy) {
    return LEGACY_SYNCZ_TYPE_URLS.map((typeUrl) => ({
      type_url: typeUrl,
      config_status: types.find((type) => type.typeUrl === typeUrl)?.status ?? 'NOT_SENT',
    }));
  }
  return types.map((type) => {
    const pushed = lastPushTime(type, now);
    return {
      type_url: type.typeUrl,
      config_status: type.status,
      ...(pushed && { last_updated: timestamp(pushed) }),
      ...(type.status === 'ERROR' && {
        error_state: {
          last_update_attempt: timestamp(pushed ?? now),
          details: type.errorDetails ?? 'NACKed by the proxy',
        },
      }),
    };
  });
}

/** The bytes of one syncz resource, as istiod's `debugSyncz` builds it. */
export function encodeClientConfig(proxy: SimulatedProxy, options: ClientConfigOptions): Uint8Array {
  const metadata = {
    ...proxy.extraMetadata,
    CLUSTER_ID: proxy.clusterId ?? DEFAULT_CLUSTER_ID,
    NAMESPACE: proxy.namespace,
    ISTIO_VERSION: proxy.istioVersion,
    ...(options.padding && { [PADDING_METADATA_KEY]: options.padding }),
  };
  const ordered = options.reverseMetadata ? Object.fromEntries(Object.entries(metadata).reverse()) : metadata;
  return encode(CLIENT_CONFIG_TYPE, {
    node: { id: proxy.id, metadata: stringStructObject(ordered) },
    generic_xds_configs: genericXdsConfigs(proxy, options),
  });
}

export function clientConfigAny(proxy: SimulatedProxy, options: ClientConfigOptions): ProtoAny {
  return { type_url: CLIENT_CONFIG_TYPE_URL, value: Buffer.from(encodeClientConfig(proxy, options)) };
}

function configDumpContents(proxy: SimulatedProxy, now: Date, padding: string): Record<string, Record<string, unknown>> {
  const version = now.toISOString();
  const updated = timestamp(now);
  return {
    BootstrapConfigDump: {},
    ClustersConfigDump: {
      version_info: padding || version,
      dynamic_active_clusters: clustersOf(proxy).map((name) => ({
        version_info: version,
        cluster: namedResource(XDS_TYPE_URLS.CDS, name),
        last_updated: updated,
      })),
    },
    ListenersConfigDump: {
      version_info: version,
      dynamic_listeners: listenersOf(proxy).map((name) => ({
        name,
        active_state: { version_info: version, listener: namedResource(XDS_TYPE_URLS.LDS, name), last_updated: updated },
      })),
    },
    ScopedRoutesConfigDump: {},
    RoutesConfigDump: {
      dynamic_route_configs: routesOf(proxy).map((name) => ({
        version_info: version,
        route_config: namedResource(XDS_TYPE_URLS.RDS, name),
        last_updated: updated,
      })),
    },
    SecretsConfigDump: {
      dynamic_active_secrets: secretsOf(proxy).map((name) => ({
        name,
        version_info: version,
        last_updated: updated,
        secret: namedResource(XDS_TYPE_URLS.SDS, name),
      })),
    },
    EcdsConfigDump: {},
  };
}

/**
 * The seven Anys of istiod's `debugConfigDump`, in its order. `padding` (if any) travels as the
 * clusters dump's `version_info` so the bootstrap dump stays empty.
 */
export function configDumpAnys(proxy: SimulatedProxy, now: Date, padding = ''): ProtoAny[] {
  const contents = configDumpContents(proxy, now, padding);
  return CONFIG_DUMP_TYPES.map((name) => {
    const fullName = `envoy.admin.v3.${name}`;
    return { type_url: typeUrlOf(fullName), value: Buffer.from(encode(fullName, contents[name])) };
  });
}
