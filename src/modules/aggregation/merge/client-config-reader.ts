import protobuf from 'protobufjs';
import { WIRE_LENGTH_DELIMITED, readNestedString } from '../../../common/protobuf-wire.js';

export const CLIENT_CONFIG_TYPE_URL = 'type.googleapis.com/envoy.service.status.v3.ClientConfig';

/** What syncz de-duplication needs from a ClientConfig, read without decoding the rest. */
export interface ClientConfigKey {
  nodeId: string;
  /** max(generic_xds_configs[].last_updated) in ms since epoch; 0 when none is set. */
  lastUpdatedMs: number;
}

// Field numbers from envoy/service/status/v3/csds.proto and google/protobuf/timestamp.proto.
const CLIENT_CONFIG_NODE = 1;
const CLIENT_CONFIG_GENERIC_XDS_CONFIGS = 3;
const NODE_ID = 1;
const GENERIC_XDS_CONFIG_LAST_UPDATED = 5;
const TIMESTAMP_SECONDS = 1;
const TIMESTAMP_NANOS = 2;

/**
 * Walks the wire format directly: syncz answers can hold tens of thousands of ClientConfigs and
 * the proxy only needs two fields of each, so a full decode would be wasted work.
 */
export function readClientConfigKey(bytes: Uint8Array): ClientConfigKey {
  const reader = protobuf.Reader.create(bytes);
  let nodeId = '';
  let lastUpdatedMs = 0;
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    const field = tag >>> 3;
    const wireType = tag & 7;
    if (field === CLIENT_CONFIG_NODE && wireType === WIRE_LENGTH_DELIMITED) {
      nodeId = readNestedString(reader, NODE_ID);
    } else if (field === CLIENT_CONFIG_GENERIC_XDS_CONFIGS && wireType === WIRE_LENGTH_DELIMITED) {
      lastUpdatedMs = Math.max(lastUpdatedMs, readLastUpdated(reader, reader.uint32() + reader.pos));
    } else {
      reader.skipType(wireType);
    }
  }
  return { nodeId, lastUpdatedMs };
}

function readLastUpdated(reader: protobuf.Reader, end: number): number {
  let ms = 0;
  while (reader.pos < end) {
    const tag = reader.uint32();
    if (tag >>> 3 === GENERIC_XDS_CONFIG_LAST_UPDATED && (tag & 7) === WIRE_LENGTH_DELIMITED) {
      ms = readTimestamp(reader, reader.uint32() + reader.pos);
    } else {
      reader.skipType(tag & 7);
    }
  }
  return ms;
}

function readTimestamp(reader: protobuf.Reader, end: number): number {
  let seconds = 0;
  let nanos = 0;
  while (reader.pos < end) {
    const tag = reader.uint32();
    if (tag >>> 3 === TIMESTAMP_SECONDS) seconds = Number(reader.int64().toString());
    else if (tag >>> 3 === TIMESTAMP_NANOS) nanos = reader.int32();
    else reader.skipType(tag & 7);
  }
  return seconds * 1000 + Math.floor(nanos / 1e6);
}
