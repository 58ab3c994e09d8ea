import protobuf from 'protobufjs';
import { WIRE_LENGTH_DELIMITED as LENGTH_DELIMITED, WIRE_VARINT as VARINT, endOf, readNestedString } from './protobuf-wire.js';
import { DiscoveryResponse, ProtoAny } from './xds-types.js';

// Field numbers, by message: envoy/service/discovery/v3/discovery.proto (DiscoveryResponse),
// google/protobuf/any.proto and envoy/config/core/v3/base.proto (ControlPlane).
const RESPONSE = { versionInfo: 1, resources: 2, canary: 3, typeUrl: 4, nonce: 5, controlPlane: 6 } as const;
const ANY = { typeUrl: 1, value: 2 } as const;
const CONTROL_PLANE = { identifier: 1 } as const;

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
    if (field === RESPONSE.versionInfo && wireType === LENGTH_DELIMITED) response.version_info = reader.string();
    else if (field === RESPONSE.resources && wireType === LENGTH_DELIMITED) response.resources.push(readAny(reader, buffer));
    else if (field === RESPONSE.canary && wireType === VARINT) response.canary = reader.bool();
    else if (field === RESPONSE.typeUrl && wireType === LENGTH_DELIMITED) response.type_url = reader.string();
    else if (field === RESPONSE.nonce && wireType === LENGTH_DELIMITED) response.nonce = reader.string();
    else if (field === RESPONSE.controlPlane && wireType === LENGTH_DELIMITED)
      response.control_plane = { identifier: readNestedString(reader, CONTROL_PLANE.identifier) };
    else reader.skipType(wireType);
  }
  return response;
}

export function encodeDiscoveryResponse(response: DiscoveryResponse): Buffer {
  const writer = protobuf.Writer.create();
  if (response.version_info) writer.uint32(tag(RESPONSE.versionInfo, LENGTH_DELIMITED)).string(response.version_info);
  for (const resource of response.resources) {
    writer.uint32(tag(RESPONSE.resources, LENGTH_DELIMITED)).fork();
    if (resource.type_url) writer.uint32(tag(ANY.typeUrl, LENGTH_DELIMITED)).string(resource.type_url);
    if (resource.value.length > 0) writer.uint32(tag(ANY.value, LENGTH_DELIMITED)).bytes(resource.value);
    writer.ldelim();
  }
  if (response.canary) writer.uint32(tag(RESPONSE.canary, VARINT)).bool(true);
  if (response.type_url) writer.uint32(tag(RESPONSE.typeUrl, LENGTH_DELIMITED)).string(response.type_url);
  if (response.nonce) writer.uint32(tag(RESPONSE.nonce, LENGTH_DELIMITED)).string(response.nonce);
  if (response.control_plane) {
    writer.uint32(tag(RESPONSE.controlPlane, LENGTH_DELIMITED)).fork();
    if (response.control_plane.identifier)
      writer.uint32(tag(CONTROL_PLANE.identifier, LENGTH_DELIMITED)).string(response.control_plane.identifier);
    writer.ldelim();
  }
  // In Node, protobufjs's writer is a BufferWriter: finish() returns one exactly-sized Buffer.
  return writer.finish() as Buffer;
}

function tag(field: number, wireType: number): number {
  return ((field << 3) | wireType) >>> 0;
}

function readAny(reader: protobuf.Reader, buffer: Buffer): ProtoAny {
  const end = endOf(reader);
  const any: ProtoAny = { type_url: '', value: EMPTY };
  while (reader.pos < end) {
    const t = reader.uint32();
    if (t >>> 3 === ANY.typeUrl && (t & 7) === LENGTH_DELIMITED) any.type_url = reader.string();
    else if (t >>> 3 === ANY.value && (t & 7) === LENGTH_DELIMITED) {
      const length = reader.uint32();
      any.value = buffer.subarray(reader.pos, reader.pos + length);
      reader.pos += length;
    } else reader.skipType(t & 7);
  }
  return any;
}

const EMPTY = Buffer.alloc(0);
