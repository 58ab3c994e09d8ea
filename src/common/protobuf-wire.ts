import protobuf from 'protobufjs';

// What the hand-written readers and writers of the hot path share (discovery-response.codec.ts and the
// ClientConfig readers of the merge strategies): wire types, sub-message bounds, and nested fields.

/** Protobuf wire types the hand-written readers and writers use. */
export const WIRE_VARINT = 0;
export const WIRE_LENGTH_DELIMITED = 2;

/** At the reader's position is a length prefix: reads it and returns where the sub-message ends. */
export function endOf(reader: protobuf.Reader): number {
  return reader.uint32() + reader.pos; // the evaluation order (length first, then position) matters
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
