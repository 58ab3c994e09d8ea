import protobuf from 'protobufjs';
import {
  WIRE_LENGTH_DELIMITED,
  WIRE_VARINT,
  endOf,
  readInt64Number,
  readKeyEquals,
  readRecurringString,
  varint32,
} from '../../../common/protobuf-wire.js';
import { ProtoAny, ReceivedAny } from '../../../common/xds-types.js';

export const CLIENT_CONFIG_TYPE_URL = 'type.googleapis.com/envoy.service.status.v3.ClientConfig';

/** What syncz de-duplication needs from a ClientConfig, read without decoding the rest. */
export interface ClientConfigKey {
  /** `node.id`: only `<pod>.<namespace>`, so not unique across clusters. */
  nodeId: string;
  /** `node.metadata.CLUSTER_ID` ('' when absent or not a string): with nodeId, the identity of a proxy. */
  clusterId: string;
  /** max(generic_xds_configs[].last_updated) in ms since epoch; 0 when none is set. */
  lastUpdatedMs: number;
  /** Some type is STALE: pushed but never acknowledged, which is what a dead connection looks like. */
  stale: boolean;
}

// Field numbers, by message, from envoy/service/status/v3/csds.proto, envoy/config/core/v3/base.proto
// (Node), google/protobuf/struct.proto and google/protobuf/timestamp.proto. `xdsConfig` is the
// deprecated PerXdsConfig list, still read for its status.
export const CLIENT_CONFIG = { node: 1, xdsConfig: 2, genericXdsConfigs: 3 } as const;
export const NODE = { id: 1, metadata: 3 } as const;
export const PER_XDS_CONFIG = { status: 1 } as const;
export const GENERIC_XDS_CONFIG = { typeUrl: 1, lastUpdated: 5, configStatus: 6 } as const;
const STRUCT = { fields: 1 } as const;
const MAP_ENTRY = { key: 1, value: 2 } as const;
const VALUE = { stringValue: 3 } as const;
const TIMESTAMP = { seconds: 1, nanos: 2 } as const;
/** envoy.service.status.v3.ConfigStatus.STALE */
const CONFIG_STATUS_STALE = 3;

/**
 * Walks the wire format directly: syncz answers can hold tens of thousands of ClientConfigs and the
 * proxy only needs a few fields of each, so a full decode would be wasted work. The Struct's map
 * entries are looked up by key, never by position or bytes: Go marshals maps in random order.
 */
export function readClientConfigKey(bytes: Uint8Array): ClientConfigKey {
  return readClientConfigKeyInto(bytes, { nodeId: '', clusterId: '', lastUpdatedMs: 0, stale: false });
}

/**
 * readClientConfigKey into an object the caller made (fields at their empty values), so a merge can
 * read straight into its own record (e.g. one that also holds the resource) with no copy.
 */
export function readClientConfigKeyInto<T extends ClientConfigKey>(bytes: Uint8Array, key: T): T {
  return readKeyFrom(protobuf.Reader.create(bytes), key);
}

/** Reads a ClientConfig from the reader's position to its `len`. */
function readKeyFrom<T extends ClientConfigKey>(reader: protobuf.Reader, key: T): T {
  while (reader.pos < reader.len) {
    const tag = varint32(reader);
    const field = tag >>> 3;
    const wireType = tag & 7;
    if (wireType !== WIRE_LENGTH_DELIMITED) {
      reader.skipType(wireType);
    } else if (field === CLIENT_CONFIG.node) {
      readNode(reader, endOf(reader), key);
    } else if (field === CLIENT_CONFIG.genericXdsConfigs) {
      readGenericXdsConfig(reader, endOf(reader), key);
    } else if (field === CLIENT_CONFIG.xdsConfig) {
      // Read before combining: `||=` would skip the read, and with it the bytes, once stale is true.
      const status = readStatus(reader, endOf(reader), PER_XDS_CONFIG.status);
      key.stale = key.stale || status === CONFIG_STATUS_STALE;
    } else {
      reader.skipType(wireType);
    }
  }
  return key;
}

function readNode(reader: protobuf.Reader, end: number, key: ClientConfigKey): void {
  while (reader.pos < end) {
    const tag = varint32(reader);
    const isBytes = (tag & 7) === WIRE_LENGTH_DELIMITED;
    if (isBytes && tag >>> 3 === NODE.id) key.nodeId = reader.string();
    else if (isBytes && tag >>> 3 === NODE.metadata) key.clusterId = readStructKey(reader, endOf(reader), CLUSTER_ID_KEY) ?? key.clusterId;
    else reader.skipType(tag & 7);
  }
}

/** The UTF-8 bytes of a Struct key looked up on the hot path, encoded once. */
interface StructKey {
  name: string;
  utf8: Uint8Array;
}

function structKey(name: string): StructKey {
  return { name, utf8: new TextEncoder().encode(name) };
}

const CLUSTER_ID_KEY = structKey('CLUSTER_ID');
/** readStructString's keys, encoded once: callers pass a handful of constant names. */
const structKeys = new Map<string, StructKey>([[CLUSTER_ID_KEY.name, CLUSTER_ID_KEY]]);
const MAX_REMEMBERED_KEYS = 32;

/** The string value of `wanted` in a Struct, or undefined. A repeated key: the last one wins, as in protobuf maps. */
export function readStructString(reader: protobuf.Reader, end: number, wanted: string): string | undefined {
  let key = structKeys.get(wanted);
  if (!key) {
    key = structKey(wanted);
    if (structKeys.size < MAX_REMEMBERED_KEYS) structKeys.set(wanted, key);
  }
  return readStructKey(reader, end, key);
}

function readStructKey(reader: protobuf.Reader, end: number, wanted: StructKey): string | undefined {
  let found: string | undefined;
  while (reader.pos < end) {
    const tag = varint32(reader);
    if (tag >>> 3 === STRUCT.fields && (tag & 7) === WIRE_LENGTH_DELIMITED) {
      found = readMapEntry(reader, endOf(reader), wanted.utf8) ?? found;
    } else {
      reader.skipType(tag & 7);
    }
  }
  return found;
}

/**
 * One `map<string, Value>` entry: the value of the wanted key ('' when it has no string value), or
 * undefined for any other key. Key and value may come in either order, and a repeated field keeps
 * its last occurrence. Keys are compared as UTF-8 bytes, never decoded, and only the value of the
 * wanted key is: other metadata values can be large (benchmarks pad syncz answers there).
 */
function readMapEntry(reader: protobuf.Reader, end: number, wanted: Uint8Array): string | undefined {
  let matched = false;
  let valueStart = -1;
  let valueEnd = -1;
  while (reader.pos < end) {
    const tag = varint32(reader);
    const isBytes = (tag & 7) === WIRE_LENGTH_DELIMITED;
    if (isBytes && tag >>> 3 === MAP_ENTRY.key) {
      matched = readKeyEquals(reader, wanted);
    } else if (isBytes && tag >>> 3 === MAP_ENTRY.value) {
      valueEnd = endOf(reader);
      valueStart = reader.pos;
      reader.pos = valueEnd;
    } else {
      reader.skipType(tag & 7);
    }
  }
  if (!matched) return undefined;
  if (valueStart < 0) return '';
  reader.pos = valueStart;
  const stringValue = readValueString(reader, valueEnd);
  reader.pos = end;
  return stringValue ?? '';
}

function readValueString(reader: protobuf.Reader, end: number): string | undefined {
  let value: string | undefined;
  while (reader.pos < end) {
    const tag = varint32(reader);
    if (tag >>> 3 === VALUE.stringValue && (tag & 7) === WIRE_LENGTH_DELIMITED) value = readRecurringString(reader);
    else reader.skipType(tag & 7);
  }
  return value;
}

function readGenericXdsConfig(reader: protobuf.Reader, end: number, key: ClientConfigKey): void {
  while (reader.pos < end) {
    const tag = varint32(reader);
    const field = tag >>> 3;
    const wireType = tag & 7;
    if (field === GENERIC_XDS_CONFIG.lastUpdated && wireType === WIRE_LENGTH_DELIMITED) {
      key.lastUpdatedMs = Math.max(key.lastUpdatedMs, readTimestamp(reader, endOf(reader)));
    } else if (field === GENERIC_XDS_CONFIG.configStatus && wireType === WIRE_VARINT) {
      const status = reader.int32();
      key.stale = key.stale || status === CONFIG_STATUS_STALE;
    } else {
      reader.skipType(wireType);
    }
  }
}

/** The enum at `field` of a sub-message (0, UNKNOWN, when absent). */
function readStatus(reader: protobuf.Reader, end: number, field: number): number {
  let value = 0;
  while (reader.pos < end) {
    const tag = varint32(reader);
    if (tag >>> 3 === field && (tag & 7) === WIRE_VARINT) value = reader.int32();
    else reader.skipType(tag & 7);
  }
  return value;
}

export function readTimestamp(reader: protobuf.Reader, end: number): number {
  let seconds = 0;
  let nanos = 0;
  while (reader.pos < end) {
    const tag = varint32(reader);
    if (tag >>> 3 === TIMESTAMP.seconds) seconds = readInt64Number(reader);
    else if (tag >>> 3 === TIMESTAMP.nanos) nanos = reader.int32();
    else reader.skipType(tag & 7);
  }
  return seconds * 1000 + Math.floor(nanos / 1e6);
}

/** The key of a syncz resource, or undefined when it is not a ClientConfig this reader can parse. */
export function tryReadClientConfigKey(resource: ProtoAny): ClientConfigKey | undefined {
  return tryReadClientConfigKeyInto(resource, { nodeId: '', clusterId: '', lastUpdatedMs: 0, stale: false });
}

/** tryReadClientConfigKey into an object the caller made (see readClientConfigKeyInto). */
export function tryReadClientConfigKeyInto<T extends ClientConfigKey>(resource: ProtoAny, key: T): T | undefined {
  if (resource.type_url !== CLIENT_CONFIG_TYPE_URL) return undefined;
  try {
    return readKeyFrom(anyReader(resource), key);
  } catch {
    return undefined;
  }
}

/** A reader over an `Any`'s value: a received one is read where it lies, without a view of it. */
function anyReader(resource: ProtoAny): protobuf.Reader {
  if (!(resource instanceof ReceivedAny)) return protobuf.Reader.create(resource.value);
  const reader = protobuf.Reader.create(resource.source);
  reader.pos = resource.start;
  reader.len = resource.end;
  return reader;
}
