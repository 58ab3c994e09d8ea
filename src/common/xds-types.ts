/**
 * Shapes of the envoy xDS messages as @grpc/proto-loader yields them with PROTO_LOADER_OPTIONS
 * (keepCase, defaults, oneofs, longs and enums as strings). Only the fields the proxy reads are typed.
 */

export interface ProtoAny {
  type_url: string;
  value: Buffer | Uint8Array;
}

/**
 * An `Any` of a DiscoveryResponse the proxy received: its value stays where it arrived, and a Buffer
 * view of it is made only when `value` is read (merge plugins, strategies that decode payloads). The
 * hot paths (syncz keys, the encoder, answer sizes) read the bytes in place through `source`, `start`
 * and `end`: a syncz answer holds tens of thousands of resources, and a view per resource is an object
 * that lives, like the answer, for the whole request.
 */
export class ReceivedAny implements ProtoAny {
  constructor(
    public type_url: string,
    /** The received message the value lies in; the value is `source[start, end)`. */
    public source: Buffer,
    public start: number,
    public end: number,
  ) {}

  get value(): Buffer {
    return this.source.subarray(this.start, this.end);
  }

  set value(value: Buffer | Uint8Array) {
    this.source = Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    this.start = 0;
    this.end = value.byteLength;
  }
}

/** The byte length of an `Any`'s value, without making a view of a received one. */
export function anyValueLength(resource: ProtoAny): number {
  return resource instanceof ReceivedAny ? resource.end - resource.start : resource.value.byteLength;
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
