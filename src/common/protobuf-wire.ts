import protobuf from 'protobufjs';

/** Protobuf wire types the hand-written readers and writers use. */
export const WIRE_VARINT = 0;
export const WIRE_LENGTH_DELIMITED = 2;

/**
 * At the reader's position is a length-delimited sub-message: returns its string field `field`
 * ('' when absent) and leaves the reader after the sub-message, skipping every other field.
 */
export function readNestedString(reader: protobuf.Reader, field: number): string {
  const end = reader.uint32() + reader.pos;
  let value = '';
  while (reader.pos < end) {
    const tag = reader.uint32();
    if (tag >>> 3 === field && (tag & 7) === WIRE_LENGTH_DELIMITED) value = reader.string();
    else reader.skipType(tag & 7);
  }
  return value;
}
