import { describe, expect, it } from 'vitest';
import { clientConfigAny, debugAny, identifier, response } from '../../test/kit/xds-fixtures.js';
import { decodeDiscoveryResponse, encodeDiscoveryResponse } from './discovery-response.codec.js';
import { adsPackageDefinition } from './proto.js';
import { DiscoveryResponse } from './xds-types.js';

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

  it('keeps payloads as views into the received buffer (no copy)', () => {
    const bytes = generic.responseSerialize(sample());
    const fast = decodeDiscoveryResponse(bytes);
    expect((fast.resources[0].value as Buffer).buffer).toBe(bytes.buffer);
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
