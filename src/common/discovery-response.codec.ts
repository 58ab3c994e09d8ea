import protobuf from 'protobufjs';
import {
  WIRE_LENGTH_DELIMITED as LENGTH_DELIMITED,
  WIRE_VARINT as VARINT,
  endOf,
  readNestedString,
  readRecurringString,
  varint32,
} from './protobuf-wire.js';
import { DiscoveryResponse, ProtoAny, ReceivedAny, anyValueLength } from './xds-types.js';

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
    const tag = varint32(reader);
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

/** Bytes gRPC puts before every message on the wire: a compressed flag and a 32-bit big-endian length. */
export const GRPC_FRAME_HEADER_BYTES = 5;

/** Returns `size` writable bytes (contents unspecified) for one whole gRPC frame: header, then message. */
export type FrameAllocator = (size: number) => Buffer;

/**
 * Encodes in two passes: sizes first, then every field written once into one buffer of exactly the
 * right size, which also holds the gRPC frame header in front of the message (written here). The
 * returned message is a view starting after that header, so the transport can send header and message
 * without copying (see `sendPreframedResponses` in the grpc-js adapter); any other caller just sees an
 * exactly-sized message. Payloads (`Any.value`) are copied once, from the istiod answers they view.
 */
export function encodeDiscoveryResponse(
  response: DiscoveryResponse,
  allocate: FrameAllocator = (size) => Buffer.allocUnsafe(size),
): Buffer {
  const sizes = new Int32Array(response.resources.length);
  const typeUrls = new StringSizes();
  let size = stringFieldSize(response.version_info);
  for (let i = 0; i < response.resources.length; i++) {
    const resource = response.resources[i];
    const anySize = (resource.type_url ? fieldSize(typeUrls.byteLength(resource.type_url)) : 0) + bytesFieldSize(anyValueLength(resource));
    sizes[i] = anySize;
    size += fieldSize(anySize);
  }
  if (response.canary) size += 2;
  size += stringFieldSize(response.type_url) + stringFieldSize(response.nonce);
  const identifier = response.control_plane?.identifier ?? '';
  const controlPlaneSize = stringFieldSize(identifier);
  if (response.control_plane) size += fieldSize(controlPlaneSize);

  const frame = allocate(GRPC_FRAME_HEADER_BYTES + size);
  frame[0] = 0; // not compressed
  frame.writeUInt32BE(size, 1);
  let at = GRPC_FRAME_HEADER_BYTES;
  at = writeString(frame, at, RESPONSE.versionInfo, response.version_info);
  for (let i = 0; i < response.resources.length; i++) {
    const resource = response.resources[i];
    at = writeLengthPrefix(frame, at, RESPONSE.resources, sizes[i]);
    if (resource.type_url) {
      at = writeLengthPrefix(frame, at, ANY.typeUrl, typeUrls.byteLength(resource.type_url));
      at += frame.write(resource.type_url, at, 'utf8');
    }
    const length = anyValueLength(resource);
    if (length > 0) {
      at = writeLengthPrefix(frame, at, ANY.value, length);
      if (resource instanceof ReceivedAny) resource.source.copy(frame, at, resource.start, resource.end);
      else frame.set(resource.value, at);
      at += length;
    }
  }
  if (response.canary) {
    frame[at++] = tag(RESPONSE.canary, VARINT);
    frame[at++] = 1;
  }
  at = writeString(frame, at, RESPONSE.typeUrl, response.type_url);
  at = writeString(frame, at, RESPONSE.nonce, response.nonce);
  if (response.control_plane) {
    at = writeLengthPrefix(frame, at, RESPONSE.controlPlane, controlPlaneSize);
    at = writeString(frame, at, CONTROL_PLANE.identifier, identifier);
  }
  // Every byte must have been written: a reused buffer still holds an earlier answer.
  if (at !== frame.length) throw new Error(`DiscoveryResponse encoder wrote ${at} of ${frame.length} bytes`);
  return frame.subarray(GRPC_FRAME_HEADER_BYTES);
}

/** UTF-8 byte lengths of strings, remembering the last one: the resources of an answer share one type URL. */
class StringSizes {
  private last = '';
  private lastLength = 0;

  byteLength(value: string): number {
    if (value !== this.last) {
      this.last = value;
      this.lastLength = Buffer.byteLength(value, 'utf8');
    }
    return this.lastLength;
  }
}

function tag(field: number, wireType: number): number {
  return ((field << 3) | wireType) >>> 0;
}

function varintSize(value: number): number {
  let bytes = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    bytes++;
  }
  return bytes;
}

/** A length-delimited field of `length` bytes, tag included (field numbers here are all < 16: one tag byte). */
function fieldSize(length: number): number {
  return 1 + varintSize(length) + length;
}

/** proto3: an empty string or bytes field is not written. */
function stringFieldSize(value: string): number {
  return value ? fieldSize(Buffer.byteLength(value, 'utf8')) : 0;
}

function bytesFieldSize(length: number): number {
  return length > 0 ? fieldSize(length) : 0;
}

function writeLengthPrefix(buffer: Buffer, at: number, field: number, length: number): number {
  buffer[at++] = tag(field, LENGTH_DELIMITED);
  while (length >= 0x80) {
    buffer[at++] = (length & 0x7f) | 0x80;
    length = Math.floor(length / 128);
  }
  buffer[at++] = length;
  return at;
}

function writeString(buffer: Buffer, at: number, field: number, value: string): number {
  if (!value) return at;
  at = writeLengthPrefix(buffer, at, field, Buffer.byteLength(value, 'utf8'));
  return at + buffer.write(value, at, 'utf8');
}

function readAny(reader: protobuf.Reader, buffer: Buffer): ProtoAny {
  const end = endOf(reader);
  const any = new ReceivedAny('', buffer, 0, 0);
  while (reader.pos < end) {
    const t = varint32(reader);
    if (t >>> 3 === ANY.typeUrl && (t & 7) === LENGTH_DELIMITED)
      any.type_url = readRecurringString(reader); // every resource of an answer has the same type URL
    else if (t >>> 3 === ANY.value && (t & 7) === LENGTH_DELIMITED) {
      const length = varint32(reader);
      if (reader.pos + length > end) throw new RangeError(`Any.value of ${length} bytes runs past its message`);
      any.start = reader.pos;
      any.end = reader.pos + length;
      reader.pos += length;
    } else reader.skipType(t & 7);
  }
  return any;
}
