import protobuf from 'protobufjs';
import { envoyTypes, TO_OBJECT_OPTIONS } from '../../src/common/proto.js';
import type { DiscoveryResponse, ProtoAny, Timestamp, XdsNode } from '../../src/common/xds-types.js';
import { goUnmarshalStruct, type GoStructSchema } from './go-json.js';

export const CLIENT_CONFIG_TYPE = 'envoy.service.status.v3.ClientConfig';
export const NODE_TYPE = 'envoy.config.core.v3.Node';

export interface GenericXdsConfig {
  type_url: string;
  name: string;
  version_info: string;
  config_status: string;
  last_updated: Timestamp | null;
  error_state: { details: string; last_update_attempt: Timestamp | null } | null;
}

/** Legacy CSDS entry (istiod ≤1.22); `per_xds_config` names the set oneof member. */
export interface PerXdsConfig {
  status: string;
  per_xds_config?: string;
}

export interface ClientConfig {
  node: XdsNode | null;
  xds_config: PerXdsConfig[];
  generic_xds_configs: GenericXdsConfig[];
}

export interface IstioBuildInfo {
  version: string;
  revision: string;
  golang_version: string;
  status: string;
  tag: string;
}

/** istiod's `IstioControlPlaneInstance`, as istioctl's `multixds.CpInfo` returns it. */
export interface ControlPlaneInstance {
  Component: string;
  ID: string;
  Info: IstioBuildInfo;
}

const CONTROL_PLANE_SCHEMA: GoStructSchema = {
  Component: 'string',
  ID: 'string',
  Info: { version: 'string', revision: 'string', golang_version: 'string', status: 'string', tag: 'string' },
};

/**
 * Decodes every resource as a ClientConfig; like istioctl's status writer, any other Any type is an
 * error rather than skipped, so a wrongly merged syncz answer is visible.
 */
export function decodeClientConfigs(response: DiscoveryResponse): ClientConfig[] {
  return response.resources.map((resource) => decodeAnyAs<ClientConfig>(resource, CLIENT_CONFIG_TYPE, 'ClientConfig'));
}

/** Decodes an Any that must hold `typeName`; errors read like Go's `anypb.UnmarshalTo` wrapped by istioctl. */
export function decodeAnyAs<T>(resource: ProtoAny, typeName: string, label: string): T {
  const got = messageName(resource.type_url);
  if (got !== typeName) {
    throw new Error(`could not unmarshal ${label}: proto: mismatched message type: got "${got}", want "${typeName}"`);
  }
  return decodeMessage<T>(resource, typeName, label);
}

function decodeMessage<T>(resource: ProtoAny, typeName: string, label: string): T {
  const type = envoyTypes().lookupType(typeName);
  try {
    return type.toObject(type.decode(resource.value), TO_OBJECT_OPTIONS) as T;
  } catch {
    throw new Error(`could not unmarshal ${label}: proto: cannot parse invalid wire-format data`);
  }
}

/** Go `anypb.Any.MessageName`: the part after the last '/'. */
export function messageName(typeUrl: string): string {
  const slash = typeUrl.lastIndexOf('/');
  return slash >= 0 ? typeUrl.slice(slash + 1) : typeUrl;
}

/** istioctl's `multixds.CpInfo`: MISSING without `control_plane`, INVALID when its JSON does not decode. */
export function controlPlaneInfo(response: DiscoveryResponse): ControlPlaneInstance {
  if (!response.control_plane) return placeholderControlPlane('MISSING');
  return parseControlPlaneIdentifier(response.control_plane.identifier) ?? placeholderControlPlane('INVALID');
}

/** `json.Unmarshal` of the identifier into istiod's struct; undefined where Go would return an error. */
export function parseControlPlaneIdentifier(identifier: string): ControlPlaneInstance | undefined {
  return goUnmarshalStruct(identifier, CONTROL_PLANE_SCHEMA) as ControlPlaneInstance | undefined;
}

function placeholderControlPlane(kind: 'MISSING' | 'INVALID'): ControlPlaneInstance {
  return {
    Component: kind,
    ID: kind,
    Info: { version: `${kind} CP ID`, revision: '', golang_version: '', status: '', tag: '' },
  };
}

/** One entry of an istiod config dump: the admin message if this build knows its type, else null. */
export interface DecodedConfig {
  typeUrl: string;
  typeName: string;
  message: Record<string, unknown> | null;
}

/**
 * Decodes the Anys of an `istio.io/debug/config_dump` answer (istiod's `ConfigDump.configs`: Bootstrap,
 * Clusters, Listeners, ScopedRoutes, Routes, Secrets, Ecds). Unknown types are kept undecoded, as
 * istioctl's comparator tolerates them.
 */
export function decodeConfigDump(response: DiscoveryResponse): DecodedConfig[] {
  return response.resources.map((resource) => {
    const typeName = messageName(resource.type_url);
    const known = envoyTypes().lookup(typeName);
    const message = known instanceof protobuf.Type ? decodeMessage<Record<string, unknown>>(resource, typeName, typeName) : null;
    return { typeUrl: resource.type_url, typeName, message };
  });
}

/**
 * The `name` of an embedded xDS resource without loading its schema: Cluster, Listener,
 * RouteConfiguration, Secret and TypedExtensionConfig all keep it in field 1.
 */
export function embeddedResourceName(resource: ProtoAny | null | undefined): string {
  if (!resource) return '';
  try {
    const reader = protobuf.Reader.create(resource.value);
    while (reader.pos < reader.len) {
      const tag = reader.uint32();
      if (tag >>> 3 === 1 && (tag & 7) === 2) return reader.string();
      reader.skipType(tag & 7);
    }
  } catch {
    // A truncated resource simply has no readable name.
  }
  return '';
}
