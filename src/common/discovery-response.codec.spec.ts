import { describe, expect, it } from 'vitest';
import { clientConfigAny, debugAny, identifier, response } from '../../test/kit/xds-fixtures.js';
import { GRPC_FRAME_HEADER_BYTES, decodeDiscoveryResponse, encodeDiscoveryResponse } from './discovery-response.codec.js';
import { adsPackageDefinition } from './proto.js';
import { DiscoveryResponse, ReceivedAny, anyValueLength } from './xds-types.js';

type Codec = { responseSerialize(v: unknown): Buffer; responseDeserialize(b: Buffer): DiscoveryResponse };
const generic = (adsPackageDefinition()['envoy.service.discovery.v3.AggregatedDiscoveryService'] as unknown as Record<string, Codec>)
  .StreamAggregatedResources;

function sample(): DiscoveryResponse {
  return response(
    'istio.io/debug/syncz',
    [clientConfigAny('a.ns', new Date()), debugAny('x'.repeat(1000)), { type_url: 'empty', value: Buffer.alloc(0) }],
    identifier('istiod-a', '1.27.3'),
  );
}

describe('DiscoveryResponse fast codec', () => {
  it('encodes byte for byte what the generic proto-loader codec encodes', () => {
    const message = { ...sample(), canary: true };
    message.resources = message.resources.filter((r) => r.value.length > 0);
    expect(encodeDiscoveryResponse(message).equals(generic.responseSerialize(message))).toBe(true);
  });

  it('omits an empty Any value (proto3 default) and the generic codec reads it back as empty', () => {
    const message = sample();
    const decoded = generic.responseDeserialize(encodeDiscoveryResponse(message));
    expect(decoded.resources[2]).toMatchObject({ type_url: 'empty' });
    expect(decoded.resources[2].value.length).toBe(0);
  });

  it('decodes what the generic codec encoded, with the same fields and payload bytes', () => {
    const bytes = generic.responseSerialize(sample());
    const fast = decodeDiscoveryResponse(bytes);
    const slow = generic.responseDeserialize(bytes);
    expect(fast.version_info).toBe(slow.version_info);
    expect(fast.type_url).toBe(slow.type_url);
    expect(fast.nonce).toBe(slow.nonce);
    expect(fast.control_plane).toEqual(slow.control_plane);
    expect(fast.resources.map((r) => [r.type_url, Buffer.from(r.value).toString('hex')])).toEqual(
      slow.resources.map((r) => [r.type_url, Buffer.from(r.value).toString('hex')]),
    );
  });

  it('reads type URLs of equal length but different bytes apart, and the same type URL as one string', () => {
    const message = response('t', [
      { type_url: 'type.a', value: Buffer.from('1') },
      { type_url: 'type.a', value: Buffer.from('2') },
      { type_url: 'type.b', value: Buffer.from('3') },
      { type_url: 'type.a', value: Buffer.from('4') },
    ]);
    expect(decodeDiscoveryResponse(encodeDiscoveryResponse(message)).resources.map((r) => r.type_url)).toEqual([
      'type.a',
      'type.a',
      'type.b',
      'type.a',
    ]);
  });

  it('refuses an Any whose value runs past its message instead of cutting it short', () => {
    const bytes = Buffer.from(encodeDiscoveryResponse(response('t', [{ type_url: 'x', value: Buffer.alloc(10, 1) }])));
    const valueLength = bytes.indexOf(Buffer.from([0x12, 10])) + 1; // Any.value: tag 0x12, length 10
    bytes[valueLength] = 11;
    expect(() => decodeDiscoveryResponse(bytes)).toThrow(RangeError);
  });

  it('keeps payloads as views into the received buffer (no copy)', () => {
    const bytes = generic.responseSerialize(sample());
    const fast = decodeDiscoveryResponse(bytes);
    expect((fast.resources[0].value as Buffer).buffer).toBe(bytes.buffer);
  });

  it('leaves received values in place: no view until `value` is read, the length and re-encoding without one', () => {
    const message = sample();
    message.resources = message.resources.filter((r) => r.value.length > 0); // proto3 drops empty values
    const bytes = generic.responseSerialize(message);
    const [first] = decodeDiscoveryResponse(bytes).resources;
    expect(first).toBeInstanceOf(ReceivedAny);
    const received = first as ReceivedAny;
    expect(received.source).toBe(bytes);
    expect(anyValueLength(received)).toBe(received.end - received.start);
    expect(bytes.subarray(received.start, received.end).equals(received.value)).toBe(true);
    expect(encodeDiscoveryResponse(decodeDiscoveryResponse(bytes)).equals(bytes)).toBe(true);
  });

  it('a received value that is replaced reads, measures and encodes as the new bytes', () => {
    const decoded = decodeDiscoveryResponse(generic.responseSerialize(sample()));
    decoded.resources[0].value = new Uint8Array([1, 2, 3]);
    expect(Buffer.from(decoded.resources[0].value)).toEqual(Buffer.from([1, 2, 3]));
    expect(anyValueLength(decoded.resources[0])).toBe(3);
    expect(Buffer.from(generic.responseDeserialize(encodeDiscoveryResponse(decoded)).resources[0].value)).toEqual(Buffer.from([1, 2, 3]));
  });

  it('decodes an empty message to the proto3 defaults', () => {
    expect(decodeDiscoveryResponse(Buffer.alloc(0))).toEqual({
      version_info: '',
      resources: [],
      canary: false,
      type_url: '',
      nonce: '',
      control_plane: null,
    });
  });
});

describe('DiscoveryResponse encoder: one pass into the gRPC frame', () => {
  /** Payload sizes whose length prefixes take 1, 2, 3 and 4 varint bytes, and type URLs of 1-byte and multi-byte characters. */
  function varied(): DiscoveryResponse {
    const payload = (length: number, fill: number) => Buffer.alloc(length, fill);
    return {
      ...response('istio.io/debug/syncz', [
        { type_url: 'istio.io/debug', value: payload(5, 1) },
        { type_url: 'istio.io/debug', value: payload(200, 2) },
        { type_url: 'type.googleapis.com/ünïcödé.類型', value: payload(20_000, 3) },
        { type_url: 't', value: payload(3_000_000, 4) },
        { type_url: 'istio.io/debug', value: payload(128, 5) },
      ]),
      version_info: 'v-é'.repeat(50),
      nonce: 'n'.repeat(300),
      canary: true,
      control_plane: { identifier: '{"id":"é"}' },
    };
  }

  it('encodes byte for byte what the generic codec encodes, whatever the length prefixes and UTF-8 widths', () => {
    const message = varied();
    expect(encodeDiscoveryResponse(message).equals(generic.responseSerialize(message))).toBe(true);
  });

  it('writes the gRPC frame header (uncompressed, big-endian length) in the same buffer, just before the message', () => {
    const message = encodeDiscoveryResponse(varied());
    expect(message.byteOffset).toBe(GRPC_FRAME_HEADER_BYTES);
    const header = Buffer.from(message.buffer, 0, GRPC_FRAME_HEADER_BYTES);
    expect(header[0]).toBe(0);
    expect(header.readUInt32BE(1)).toBe(message.length);
  });

  it('writes every byte of a reused buffer: leftovers of an earlier answer never reach the wire', () => {
    const message = varied();
    const expected = generic.responseSerialize(message);
    const dirty = Buffer.alloc(expected.length + GRPC_FRAME_HEADER_BYTES + 100, 0xee);
    const sizes: number[] = [];
    const encoded = encodeDiscoveryResponse(message, (size) => {
      sizes.push(size);
      return dirty.subarray(0, size);
    });
    expect(sizes).toEqual([expected.length + GRPC_FRAME_HEADER_BYTES]);
    expect(encoded.equals(expected)).toBe(true);
    expect(encoded.buffer).toBe(dirty.buffer);
  });

  it('omits an empty type URL (proto3 default), which the generic codec reads back as empty', () => {
    const message = response('istio.io/debug', [{ type_url: '', value: Buffer.from('body') }]);
    expect(generic.responseDeserialize(encodeDiscoveryResponse(message)).resources[0]).toMatchObject({ type_url: '' });
  });

  it('encodes an empty message as an empty frame', () => {
    const empty: DiscoveryResponse = { version_info: '', resources: [], type_url: '', nonce: '', control_plane: null };
    const encoded = encodeDiscoveryResponse(empty);
    expect(encoded.length).toBe(0);
    expect(Buffer.from(encoded.buffer, encoded.byteOffset - GRPC_FRAME_HEADER_BYTES, GRPC_FRAME_HEADER_BYTES)).toEqual(Buffer.alloc(5));
  });
});
