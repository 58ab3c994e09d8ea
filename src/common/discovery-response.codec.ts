import protobuf from 'protobufjs';
import { WIRE_LENGTH_DELIMITED as LENGTH_DELIMITED, WIRE_VARINT as VARINT, readNestedString } from './protobuf-wire.js';
import { DiscoveryResponse, ProtoAny } from './xds-types.js';

// Field numbers from envoy/service/discovery/v3/discovery.proto, google/protobuf/any.proto and
// envoy/config/core/v3/base.proto (ControlPlane).
const VERSION_INFO = 1;
const RESOURCES = 2;
const CANARY = 3;
const TYPE_URL = 4;
const NONCE = 5;
const CONTROL_PLANE = 6;
const ANY_TYPE_URL = 1;
const ANY_VALUE = 2;
const CONTROL_PLANE_IDENTIFIER = 1;

/**
 * DiscoveryResponse on the proxy's hot path, both ways. The generic proto-loader codec builds two
 * object trees per message and copies every payload; istiod answers can be tens of MB that the
 * proxy only forwards. Here `Any.value`s are views into the received buffer (no copy) and encoding
 * writes them once into the outgoing buffer. Fields the proxy does not know are skipped, exactly as
 * the generic codec drops them.
 */
export function decodeDiscoveryResponse(buffer: Buffer): DiscoveryResponse {
  const reader = protobuf.Reader.create(buffer);
  const response: DiscoveryResponse = { version_info: '', resources: [], canary: false, type_url: '', nonce: '', control_plane: null };
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    const field = tag >>> 3;
    const wireType = tag & 7;
    if (field === VERSION_INFO && wireType === LENGTH_DELIMITED) response.version_info = reader.string();
    else if (field === RESOURCES && wireType === LENGTH_DELIMITED) response.resources.push(readAny(reader, buffer));
    else if (field === CANARY && wireType === VARINT) response.canary = reader.bool();
    else if (field === TYPE_URL && wireType === LENGTH_DELIMITED) response.type_url = reader.string();
    else if (field === NONCE && wireType === LENGTH_DELIMITED) response.nonce = reader.string();
    else if (field === CONTROL_PLANE && wireType === LENGTH_DELIMITED)
      response.control_plane = { identifier: readNestedString(reader, CONTROL_PLANE_IDENTIFIER) };
    else reader.skipType(wireType);
  }
  return response;
}

export function encodeDiscoveryResponse(response: DiscoveryResponse): Buffer {
  const writer = protobuf.Writer.create();
  if (response.version_info) writer.uint32(tag(VERSION_INFO, LENGTH_DELIMITED)).string(response.version_info);
  for (const resource of response.resources) {
    writer.uint32(tag(RESOURCES, LENGTH_DELIMITED)).fork();
    if (resource.type_url) writer.uint32(tag(ANY_TYPE_URL, LENGTH_DELIMITED)).string(resource.type_url);
    if (resource.value.length > 0) writer.uint32(tag(ANY_VALUE, LENGTH_DELIMITED)).bytes(resource.value);
    writer.ldelim();
  }
  if (response.canary) writer.uint32(tag(CANARY, VARINT)).bool(true);
  if (response.type_url) writer.uint32(tag(TYPE_URL, LENGTH_DELIMITED)).string(response.type_url);
  if (response.nonce) writer.uint32(tag(NONCE, LENGTH_DELIMITED)).string(response.nonce);
  if (response.control_plane) {
    writer.uint32(tag(CONTROL_PLANE, LENGTH_DELIMITED)).fork();
    if (response.control_plane.identifier)
      writer.uint32(tag(CONTROL_PLANE_IDENTIFIER, LENGTH_DELIMITED)).string(response.control_plane.identifier);
    writer.ldelim();
  }
  // In Node, protobufjs's writer is a BufferWriter: finish() returns one exactly-sized Buffer.
  return writer.finish() as Buffer;
}

function tag(field: number, wireType: number): number {
  return ((field << 3) | wireType) >>> 0;
}

function readAny(reader: protobuf.Reader, buffer: Buffer): ProtoAny {
  const end = reader.uint32() + reader.pos;
  const any: ProtoAny = { type_url: '', value: EMPTY };
  while (reader.pos < end) {
    const t = reader.uint32();
    if (t >>> 3 === ANY_TYPE_URL && (t & 7) === LENGTH_DELIMITED) any.type_url = reader.string();
    else if (t >>> 3 === ANY_VALUE && (t & 7) === LENGTH_DELIMITED) {
      const length = reader.uint32();
      any.value = buffer.subarray(reader.pos, reader.pos + length);
      reader.pos += length;
    } else reader.skipType(t & 7);
  }
  return any;
}

const EMPTY = Buffer.alloc(0);
