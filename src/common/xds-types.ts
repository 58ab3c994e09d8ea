/**
 * Shapes of the envoy xDS messages as @grpc/proto-loader yields them with PROTO_LOADER_OPTIONS
 * (keepCase, defaults, oneofs, longs and enums as strings). Only the fields the proxy reads are typed.
 */

export interface ProtoAny {
  type_url: string;
  value: Buffer | Uint8Array;
}

export interface ProtoValue {
  kind?: string;
  nullValue?: string;
  numberValue?: number;
  stringValue?: string;
  boolValue?: boolean;
  structValue?: ProtoStruct;
  listValue?: { values: ProtoValue[] };
}

export interface ProtoStruct {
  fields: Record<string, ProtoValue>;
}

export interface XdsNode {
  id: string;
  cluster?: string;
  metadata?: ProtoStruct | null;
  [field: string]: unknown;
}

export interface ControlPlane {
  identifier: string;
}

export interface DiscoveryRequest {
  version_info: string;
  node: XdsNode | null;
  resource_names: string[];
  type_url: string;
  response_nonce: string;
  error_detail?: { code: number; message: string } | null;
  [field: string]: unknown;
}

export interface DiscoveryResponse {
  version_info: string;
  resources: ProtoAny[];
  canary?: boolean;
  type_url: string;
  nonce: string;
  control_plane: ControlPlane | null;
  [field: string]: unknown;
}

export interface Timestamp {
  seconds: string | number;
  nanos: number;
}

/** Reads a string from a protobuf Struct as decoded by proto-loader. */
export function structString(struct: ProtoStruct | null | undefined, key: string): string | undefined {
  const value = struct?.fields?.[key];
  return value?.stringValue ?? undefined;
}

/** Builds a proto-loader Struct of string values. */
export function stringStruct(values: Record<string, string>): ProtoStruct {
  const fields: Record<string, ProtoValue> = {};
  for (const [key, value] of Object.entries(values)) {
    fields[key] = { kind: 'stringValue', stringValue: value };
  }
  return { fields };
}

export function timestampMillis(ts: Timestamp | null | undefined): number {
  if (!ts) return 0;
  return Number(ts.seconds) * 1000 + Math.floor((ts.nanos ?? 0) / 1e6);
}
