import fc from 'fast-check';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { envoyTypes } from '../../../common/proto.js';
import { clientConfigAny } from '../../../../test/kit/xds-fixtures.js';
import {
  CDS,
  encodeWire,
  LDS,
  mergeSyncz as merge,
  proxyAny,
  type WireClientConfig,
  type WireEntry,
} from '../../../../test/kit/syncz-client-config.js';
import { CLIENT_CONFIG_TYPE_URL, readClientConfigKey, readStructString } from './client-config-reader.js';

describe('readClientConfigKey', () => {
  it('reads node id, CLUSTER_ID, the newest timestamp and STALE from the wire format', () => {
    const key = readClientConfigKey(
      proxyAny('x.ns', {
        cluster: 'west',
        types: [
          { typeUrl: CDS, status: 'SYNCED', at: new Date('2026-03-04T05:06:07.890Z') },
          { typeUrl: LDS, status: 'STALE', at: new Date('2026-03-04T05:00:00Z') },
        ],
      }).value,
    );
    expect(key).toEqual({ nodeId: 'x.ns', clusterId: 'west', lastUpdatedMs: Date.parse('2026-03-04T05:06:07.890Z'), stale: true });
  });

  it('reports no cluster and not STALE when neither is present', () => {
    expect(readClientConfigKey(clientConfigAny('x.ns').value)).toEqual({ nodeId: 'x.ns', clusterId: '', lastUpdatedMs: 0, stale: false });
  });

  it('reads CLUSTER_ID from a map entry that puts its value before its key, and a repeated key keeps the last', () => {
    const entry = (writer: protobuf.Writer, key: string, value: string, valueFirst: boolean) => {
      writer.uint32((1 << 3) | 2).fork(); // Struct.fields entry
      const writeValue = () =>
        writer
          .uint32((2 << 3) | 2)
          .fork()
          .uint32((3 << 3) | 2)
          .string(value)
          .ldelim();
      if (valueFirst) writeValue();
      writer.uint32((1 << 3) | 2).string(key);
      if (!valueFirst) writeValue();
      writer.ldelim();
    };
    const writer = protobuf.Writer.create();
    writer.uint32((1 << 3) | 2).fork(); // ClientConfig.node
    writer.uint32((1 << 3) | 2).string('x.ns');
    writer.uint32((3 << 3) | 2).fork(); // Node.metadata
    entry(writer, 'CLUSTER_ID', 'north', false);
    entry(writer, 'PADDING', 'z'.repeat(1000), false);
    entry(writer, 'CLUSTER_ID', 'east', true);
    writer.ldelim().ldelim();
    expect(readClientConfigKey(writer.finish())).toEqual({ nodeId: 'x.ns', clusterId: 'east', lastUpdatedMs: 0, stale: false });
  });

  it('reads a STALE status of the deprecated per-xDS configs', () => {
    const ClientConfig = envoyTypes().lookupType('envoy.service.status.v3.ClientConfig');
    const bytes = ClientConfig.encode(
      ClientConfig.fromObject({ node: { id: 'old.ns' }, xds_config: [{ status: 'SYNCED' }, { status: 'STALE' }] }),
    ).finish();
    expect(readClientConfigKey(bytes)).toMatchObject({ nodeId: 'old.ns', stale: true });
  });
});

/** What readClientConfigKey must find, from the description rather than the bytes. */
function expectedKey({ nodeId, metadata, generic, legacy }: WireClientConfig) {
  const clusterEntries = metadata.filter((entry) => entry.key === 'CLUSTER_ID');
  const last = clusterEntries.at(-1);
  const utf8 = (text: string) => Buffer.from(text, 'utf8').toString('utf8'); // lone surrogates become U+FFFD on the wire
  const times = generic.filter((g) => g.seconds !== undefined).map((g) => Number(g.seconds) * 1000 + Math.floor((g.nanos ?? 0) / 1e6));
  return {
    nodeId: utf8(nodeId),
    clusterId: last ? (typeof last.value === 'string' ? utf8(last.value) : '') : '',
    lastUpdatedMs: Math.max(0, ...times),
    stale: generic.some((g) => g.status === 3) || legacy.includes(3),
  };
}

/** Keys that differ from CLUSTER_ID by little: a prefix, an extension, one byte, the same byte length in multi-byte UTF-8. */
const NEAR_KEYS = [
  'CLUSTER',
  'CLUSTER_I',
  'CLUSTER_ID_',
  'CLUSTER_IDS',
  'cluster_id',
  'CLUSTER_IE',
  'ÇLUSTER_I',
  'CLUSTER_Ï',
  '',
  'ISTIO_VERSION',
];

const wireClientConfig: fc.Arbitrary<WireClientConfig> = fc.record({
  nodeId: fc.oneof(fc.constantFrom('a-1.ns', 'b-2.ns'), fc.string({ unit: 'binary', minLength: 1, maxLength: 12 })),
  metadata: fc.array(
    fc.record(
      {
        key: fc.oneof(fc.constant('CLUSTER_ID'), fc.constantFrom(...NEAR_KEYS), fc.string({ unit: 'binary', maxLength: 12 })),
        value: fc.oneof(fc.constantFrom('east', 'west', ''), fc.string({ unit: 'binary', maxLength: 300 }), fc.double({ noNaN: true })),
        valueFirst: fc.boolean(),
      },
      { requiredKeys: [] },
    ),
    { maxLength: 6 },
  ),
  generic: fc.array(
    fc.record(
      {
        status: fc.integer({ min: 0, max: 4 }),
        seconds: fc.oneof(fc.bigInt({ min: 0n, max: 4_000_000_000n }), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })),
        nanos: fc.integer({ min: 0, max: 999_999_999 }),
      },
      { requiredKeys: ['status'] },
    ),
    { maxLength: 4 },
  ),
  legacy: fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 2 }),
});

describe('readClientConfigKey on hand-made wire bytes', () => {
  it('finds CLUSTER_ID by its exact bytes, never a key that is its prefix, extension or same-length look-alike', () => {
    for (const near of NEAR_KEYS) {
      const wire: WireClientConfig = {
        nodeId: 'x.ns',
        metadata: [
          { key: 'CLUSTER_ID', value: 'east' },
          { key: near, value: 'not-this' },
        ],
        generic: [],
        legacy: [],
      };
      expect(readClientConfigKey(encodeWire(wire)).clusterId, near).toBe('east');
      expect(readClientConfigKey(encodeWire({ ...wire, metadata: [wire.metadata[1]] })).clusterId, near).toBe('');
    }
    expect(Buffer.byteLength('CLUSTER_Ï')).toBe(Buffer.byteLength('CLUSTER_ID')); // the same-length case is one
  });

  it('reads a CLUSTER_ID without a value, or with a non-string one, as the empty cluster, and keeps the last of repeated keys', () => {
    const key = (metadata: WireEntry[]) => readClientConfigKey(encodeWire({ nodeId: 'x.ns', metadata, generic: [], legacy: [] })).clusterId;
    expect(key([{ key: 'CLUSTER_ID', value: 'east' }, { key: 'CLUSTER_ID' }])).toBe('');
    expect(
      key([
        { key: 'CLUSTER_ID', value: 'east' },
        { key: 'CLUSTER_ID', value: 7 },
      ]),
    ).toBe('');
    expect(
      key([
        { key: 'CLUSTER_ID', value: 7 },
        { key: 'CLUSTER_ID', value: 'west', valueFirst: true },
      ]),
    ).toBe('west');
    expect(key([{ value: 'east' }])).toBe('');
  });

  it('reads every cluster value right however many distinct ones and however long (values are remembered by bytes)', () => {
    const clusters = [...Array.from({ length: 20 }, (_, i) => `cluster-${i}`), 'ü'.repeat(200), 'ü'.repeat(199) + 'ý', 'long-'.repeat(80)];
    for (let round = 0; round < 3; round++) {
      for (const cluster of clusters) {
        const bytes = encodeWire({ nodeId: 'x.ns', metadata: [{ key: 'CLUSTER_ID', value: cluster }], generic: [], legacy: [] });
        expect(readClientConfigKey(bytes).clusterId).toBe(cluster);
      }
    }
  });

  it('reads int64 seconds of last_updated as protobufjs does, negative and past 2^53 included', () => {
    const lastUpdated = (seconds: bigint) =>
      readClientConfigKey(encodeWire({ nodeId: 'x.ns', metadata: [], generic: [{ status: 1, seconds, nanos: 0 }], legacy: [] }))
        .lastUpdatedMs;
    expect(lastUpdated(1_767_225_600n)).toBe(1_767_225_600_000);
    expect(lastUpdated(2n ** 53n + 1n)).toBe(Number(2n ** 53n + 1n) * 1000);
    expect(lastUpdated(2n ** 63n - 1n)).toBe(Number(2n ** 63n - 1n) * 1000);
    expect(lastUpdated(-1n)).toBe(0); // below the 0 of "no timestamp": max() keeps 0
  });

  it('agrees with the description of any ClientConfig (property)', () => {
    fc.assert(
      fc.property(wireClientConfig, (wire) => {
        expect(readClientConfigKey(encodeWire(wire))).toEqual(expectedKey(wire));
      }),
      { numRuns: 500 },
    );
  });

  it('gives readStructString the same answers for keys it has not seen before', () => {
    const bytes = encodeWire({
      nodeId: 'x.ns',
      metadata: [
        { key: 'NAMESPACE', value: 'ns' },
        { key: 'ÇLUSTER_I', value: 'cedilla' },
      ],
      generic: [],
      legacy: [],
    });
    // node (field 1) → its body → metadata (field 3) is the second field of the node.
    const reader = protobuf.Reader.create(bytes);
    reader.uint32();
    const nodeEnd = reader.uint32() + reader.pos;
    reader.uint32();
    reader.skip(reader.uint32());
    reader.uint32();
    const metadataEnd = reader.uint32() + reader.pos;
    const start = reader.pos;
    expect(nodeEnd).toBe(metadataEnd);
    for (const [wanted, value] of [
      ['ÇLUSTER_I', 'cedilla'],
      ['NAMESPACE', 'ns'],
      ['CLUSTER_ID', undefined],
    ] as const) {
      reader.pos = start;
      expect(readStructString(reader, metadataEnd, wanted)).toBe(value);
    }
  });

  it('passes a truncated or corrupt ClientConfig through unread, like any resource it cannot read', () => {
    const whole = encodeWire({
      nodeId: 'x.ns',
      metadata: [{ key: 'CLUSTER_ID', value: 'east' }],
      generic: [{ status: 1, seconds: 5n }],
      legacy: [],
    });
    const cut = { type_url: CLIENT_CONFIG_TYPE_URL, value: whole.subarray(0, whole.length - 3) };
    const corrupt = { type_url: CLIENT_CONFIG_TYPE_URL, value: Buffer.from([0x0a, 0x05, 0x0a, 0xff, 0xff, 0xff, 0xff]) };
    expect(merge([[cut, corrupt]])).toEqual([cut, corrupt]);
  });
});
