import protobuf from 'protobufjs';

// What the hand-written readers and writers of the hot path share (discovery-response.codec.ts and the
// ClientConfig readers of the merge strategies): wire types, sub-message bounds, and nested fields.

/** Protobuf wire types the hand-written readers and writers use. */
export const WIRE_VARINT = 0;
export const WIRE_LENGTH_DELIMITED = 2;

/** At the reader's position is a length prefix: reads it and returns where the sub-message ends. */
export function endOf(reader: protobuf.Reader): number {
  return varint32(reader) + reader.pos; // the evaluation order (length first, then position) matters
}

/**
 * At the reader's position is a length-delimited sub-message: returns its string field `field`
 * ('' when absent) and leaves the reader after the sub-message, skipping every other field.
 */
export function readNestedString(reader: protobuf.Reader, field: number): string {
  const end = endOf(reader);
  let value = '';
  while (reader.pos < end) {
    const tag = reader.uint32();
    if (tag >>> 3 === field && (tag & 7) === WIRE_LENGTH_DELIMITED) value = reader.string();
    else reader.skipType(tag & 7);
  }
  return value;
}

/**
 * `reader.uint32()` with the one-byte case (nearly every tag and short length) inlined where it is
 * called; longer varints, and a read past the end, go to protobufjs as before.
 */
export function varint32(reader: protobuf.Reader): number {
  const byte = reader.buf[reader.pos];
  if (byte < 128) {
    reader.pos++;
    return byte;
  }
  return reader.uint32();
}

/**
 * At the reader's position is a length-prefixed string: whether its bytes are exactly `wanted`'s,
 * leaving the reader after it, as `reader.string()` followed by a string comparison would (UTF-8 is
 * one encoding per string, so equal bytes are equal strings) but with no string made. A length past
 * the end is cut at the end like protobufjs's BufferReader does, or refused like its plain Reader.
 */
export function readKeyEquals(reader: protobuf.Reader, wanted: Uint8Array): boolean {
  const length = varint32(reader);
  const start = reader.pos;
  let stop = start + length;
  if (stop > reader.len) {
    if (!Buffer.isBuffer(reader.buf)) throw RangeError(`index out of range: ${start} + ${length} > ${reader.len}`);
    stop = reader.len;
  }
  reader.pos = stop;
  return bytesEqual(reader.buf, start, stop - start, wanted);
}

/** Recurring values (type URLs, CLUSTER_ID, ISTIO_VERSION): a mesh has a few, repeated by thousands of resources. */
const recentValues: Array<{ utf8: Uint8Array; value: string }> = [];
const MAX_RECENT_VALUES = 8;
const MAX_RECENT_VALUE_BYTES = 256;
let nextRecentSlot = 0;

/**
 * `reader.string()`, but a value whose bytes were decoded lately is returned as that same string: no
 * decoding, no new string, and a Map lookup that finds its hash already computed. Only for Buffers
 * (every answer from istiod): protobufjs decodes other arrays with its own UTF-8 reader, which may
 * replace invalid bytes differently.
 */
export function readRecurringString(reader: protobuf.Reader): string {
  const before = reader.pos;
  const length = varint32(reader);
  const start = reader.pos;
  const fits = length <= MAX_RECENT_VALUE_BYTES && start + length <= reader.len && Buffer.isBuffer(reader.buf);
  if (fits) {
    for (const recent of recentValues) {
      if (bytesEqual(reader.buf, start, length, recent.utf8)) {
        reader.pos = start + length;
        return recent.value;
      }
    }
  }
  reader.pos = before;
  const value = reader.string();
  if (fits) {
    // A copy: a view would keep the whole answer alive.
    recentValues[nextRecentSlot] = { utf8: Uint8Array.prototype.slice.call(reader.buf, start, start + length), value };
    nextRecentSlot = (nextRecentSlot + 1) % MAX_RECENT_VALUES;
  }
  return value;
}

/** Whether `buf[start, start + length)` holds exactly the bytes of `wanted`. */
export function bytesEqual(buf: Uint8Array, start: number, length: number, wanted: Uint8Array): boolean {
  if (length !== wanted.length) return false;
  for (let i = 0; i < length; i++) if (buf[start + i] !== wanted[i]) return false;
  return true;
}

/**
 * `LongBits.from(reader.int64()).toNumber()` without the two objects it makes: the same varint walk
 * as protobufjs's readLongVarint (same bytes consumed, same errors), then the signed 64-bit value as
 * the nearest number. Timestamps are read six times per ClientConfig.
 */
export function readInt64Number(reader: protobuf.Reader): number {
  const buf = reader.buf;
  let lo = 0;
  let hi = 0;
  let i = 0;
  if (reader.len - reader.pos > 4) {
    for (; i < 4; ++i) {
      lo = (lo | ((buf[reader.pos] & 127) << (i * 7))) >>> 0;
      if (buf[reader.pos++] < 128) return int64ToNumber(lo, hi);
    }
    lo = (lo | ((buf[reader.pos] & 127) << 28)) >>> 0;
    hi = (hi | ((buf[reader.pos] & 127) >> 4)) >>> 0;
    if (buf[reader.pos++] < 128) return int64ToNumber(lo, hi);
    i = 0;
  } else {
    for (; i < 3; ++i) {
      if (reader.pos >= reader.len) throw outOfRange(reader);
      lo = (lo | ((buf[reader.pos] & 127) << (i * 7))) >>> 0;
      if (buf[reader.pos++] < 128) return int64ToNumber(lo, hi);
    }
    lo = (lo | ((buf[reader.pos++] & 127) << (i * 7))) >>> 0;
    return int64ToNumber(lo, hi);
  }
  if (reader.len - reader.pos > 4) {
    for (; i < 5; ++i) {
      hi = (hi | ((buf[reader.pos] & 127) << (i * 7 + 3))) >>> 0;
      if (buf[reader.pos++] < 128) return int64ToNumber(lo, hi);
    }
  } else {
    for (; i < 5; ++i) {
      if (reader.pos >= reader.len) throw outOfRange(reader);
      hi = (hi | ((buf[reader.pos] & 127) << (i * 7 + 3))) >>> 0;
      if (buf[reader.pos++] < 128) return int64ToNumber(lo, hi);
    }
  }
  throw Error('invalid varint encoding');
}

/** protobufjs's LongBits#toNumber(false): two's complement from two unsigned 32-bit halves. */
function int64ToNumber(lo: number, hi: number): number {
  if (hi >>> 31) {
    const negLo = (~lo + 1) >>> 0;
    let negHi = ~hi >>> 0;
    if (!negLo) negHi = (negHi + 1) >>> 0;
    return -(negLo + negHi * 4294967296);
  }
  return lo + hi * 4294967296;
}

function outOfRange(reader: protobuf.Reader): RangeError {
  return RangeError(`index out of range: ${reader.pos} + 1 > ${reader.len}`);
}
