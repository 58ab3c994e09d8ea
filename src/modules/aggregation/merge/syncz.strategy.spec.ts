import fc from 'fast-check';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { envoyTypes, typeUrlOf } from '../../../common/proto.js';
import { ProtoAny } from '../../../common/xds-types.js';
import { answer, clientConfigAny, request, response } from '../../../../test/kit/xds-fixtures.js';
import { CLIENT_CONFIG_TYPE_URL, readClientConfigKey, readStructString } from './client-config-reader.js';
import { SynczStrategy } from './syncz.strategy.js';

const SYNCZ = 'istio.io/debug/syncz';
const CDS = 'type.googleapis.com/envoy.config.cluster.v3.Cluster';
const LDS = 'type.googleapis.com/envoy.config.listener.v3.Listener';

interface ProxySpec {
  cluster?: string;
  /** Per type: status and push time. */
  types?: Array<{ typeUrl: string; status: string; at?: Date }>;
  /** node.metadata keys in this order (Go marshals map entries in random order). */
  metadataOrder?: string[];
}

/** A ClientConfig as istiod's syncz builds it, with the cluster, statuses and map order a test needs. */
function proxyAny(nodeId: string, { cluster, types = [{ typeUrl: CDS, status: 'SYNCED' }], metadataOrder }: ProxySpec = {}): ProtoAny {
  const values: Record<string, string> = { ISTIO_VERSION: '1.27.3', NAMESPACE: nodeId.split('.')[1] ?? '' };
  if (cluster !== undefined) values.CLUSTER_ID = cluster;
  const fields: Record<string, { stringValue: string }> = {};
  for (const key of metadataOrder ?? Object.keys(values)) fields[key] = { stringValue: values[key] };
  const ClientConfig = envoyTypes().lookupType('envoy.service.status.v3.ClientConfig');
  const message = ClientConfig.fromObject({
    node: { id: nodeId, metadata: { fields } },
    generic_xds_configs: types.map(({ typeUrl, status, at }) => ({
      type_url: typeUrl,
      config_status: status,
      ...(at && { last_updated: { seconds: Math.floor(at.getTime() / 1000), nanos: (at.getTime() % 1000) * 1e6 } }),
    })),
  });
  return { type_url: typeUrlOf('envoy.service.status.v3.ClientConfig'), value: Buffer.from(ClientConfig.encode(message).finish()) };
}

function merge(perReplica: ProtoAny[][], logs: string[] = []): ProtoAny[] {
  const answers = perReplica.map((resources, i) => answer(`istiod-${String.fromCharCode(97 + i)}`, response(SYNCZ, resources)));
  return new SynczStrategy().merge(request(SYNCZ), answers, { log: (m) => logs.push(m) }).resources;
}

const at = (minute: number) => new Date(Date.UTC(2026, 0, 1, 0, minute));

describe('SynczStrategy', () => {
  it('unions the proxies of every istiod, keeping Any bytes unchanged', () => {
    const a = clientConfigAny('productpage-v1-1.bookinfo', new Date());
    const b = clientConfigAny('sleep-1.sleep', new Date());
    const merged = merge([[a], [b]]);
    expect(merged).toHaveLength(2);
    expect(merged[0].value).toBe(a.value);
    expect(merged[1].value).toBe(b.value);
  });

  it('keeps the same pod.ns of two clusters as two proxies, on one replica or on two', () => {
    const east = proxyAny('mongodb-0.bookinfo', { cluster: 'east', types: [{ typeUrl: CDS, status: 'SYNCED', at: at(1) }] });
    const west = proxyAny('mongodb-0.bookinfo', { cluster: 'west', types: [{ typeUrl: CDS, status: 'SYNCED', at: at(9) }] });
    const logs: string[] = [];
    expect(merge([[east], [west]], logs)).toEqual([east, west]);
    expect(merge([[east, west]], logs)).toEqual([east, west]);
    expect(logs).toEqual([]);
  });

  it('keeps the live copy of a reconnected proxy: a STALE copy loses even when its push is newer', () => {
    const dead = proxyAny('reviews-v1-1.bookinfo', {
      cluster: 'east',
      types: [
        { typeUrl: CDS, status: 'SYNCED', at: at(10) },
        { typeUrl: LDS, status: 'STALE', at: at(12) },
      ],
    });
    const live = proxyAny('reviews-v1-1.bookinfo', { cluster: 'east', types: [{ typeUrl: CDS, status: 'SYNCED', at: at(5) }] });
    const logs: string[] = [];
    expect(merge([[dead], [live]], logs)).toEqual([live]);
    expect(merge([[live], [dead]])).toEqual([live]);
    expect(logs).toEqual([
      'syncz: 1 proxy reported by more than one istiod: 1 kept the non-STALE copy, 0 kept the newest last_updated, 0 tie → first replica',
    ]);
  });

  it('otherwise keeps the copy with the newest last_updated', () => {
    const older = clientConfigAny('reviews-v1-1.bookinfo', at(0), '1.26.1');
    const newer = clientConfigAny('reviews-v1-1.bookinfo', at(5), '1.27.3');
    const logs: string[] = [];
    expect(merge([[older], [newer]], logs)).toEqual([newer]);
    expect(logs[0]).toContain('0 kept the non-STALE copy, 1 kept the newest last_updated, 0 tie');
  });

  it('prefers the newest among non-STALE copies when a third copy is STALE', () => {
    const stale = proxyAny('x.ns', { types: [{ typeUrl: CDS, status: 'STALE', at: at(30) }] });
    const old = proxyAny('x.ns', { types: [{ typeUrl: CDS, status: 'SYNCED', at: at(1) }] });
    const recent = proxyAny('x.ns', { types: [{ typeUrl: CDS, status: 'SYNCED', at: at(2) }] });
    expect(merge([[stale], [old], [recent]])).toEqual([recent]);
  });

  it('keeps the first replica copy on a tie or when no timestamps are set (istiod <= 1.22)', () => {
    const first = clientConfigAny('ratings-1.bookinfo');
    const second = clientConfigAny('ratings-1.bookinfo');
    const logs: string[] = [];
    const merged = merge([[first], [second]], logs);
    expect(merged).toHaveLength(1);
    expect(merged[0]).toBe(first);
    expect(logs[0]).toContain('1 tie → first replica');
  });

  it('counts each rule in one log line', () => {
    const both = (id: string, a: ProxySpec, b: ProxySpec) => [proxyAny(id, a), proxyAny(id, b)];
    const [staleA, liveB] = both(
      'a.ns',
      { types: [{ typeUrl: CDS, status: 'STALE', at: at(9) }] },
      { types: [{ typeUrl: CDS, status: 'SYNCED', at: at(1) }] },
    );
    const [oldA, newB] = both(
      'b.ns',
      { types: [{ typeUrl: CDS, status: 'SYNCED', at: at(1) }] },
      { types: [{ typeUrl: CDS, status: 'SYNCED', at: at(2) }] },
    );
    const [tieA, tieB] = both('c.ns', {}, {});
    const [onlyA] = both('d.ns', {}, {});
    const logs: string[] = [];
    expect(
      merge(
        [
          [staleA, oldA, tieA, onlyA],
          [liveB, newB, tieB],
        ],
        logs,
      ),
    ).toEqual([liveB, newB, tieA, onlyA]);
    expect(logs).toEqual([
      'syncz: 3 proxies reported by more than one istiod: 1 kept the non-STALE copy, 1 kept the newest last_updated, 1 tie → first replica',
    ]);
  });

  it('identifies a proxy by the CLUSTER_ID value, whatever the order of the metadata map entries', () => {
    const sorted = proxyAny('p-0.ns', { cluster: 'east', metadataOrder: ['CLUSTER_ID', 'ISTIO_VERSION', 'NAMESPACE'] });
    const reversed = proxyAny('p-0.ns', { cluster: 'east', metadataOrder: ['NAMESPACE', 'ISTIO_VERSION', 'CLUSTER_ID'] });
    expect(Buffer.compare(sorted.value, reversed.value)).not.toBe(0);
    expect(readClientConfigKey(sorted.value)).toEqual(readClientConfigKey(reversed.value));
    expect(merge([[sorted], [reversed]])).toEqual([sorted]);
  });

  it('passes through resources it cannot read instead of dropping them', () => {
    const odd = { type_url: 'type.googleapis.com/some.Other', value: Buffer.from([1, 2, 3]) };
    expect(merge([[odd]], [])).toEqual([odd]);
  });
});

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

/** One node.metadata map entry as written on the wire, in any field order (Go does not promise one). */
interface WireEntry {
  key?: string;
  /** A string Value, or a number Value (not a string: reads as ''), or no value field at all. */
  value?: string | number;
  valueFirst?: boolean;
}

interface WireClientConfig {
  nodeId: string;
  metadata: WireEntry[];
  /** generic_xds_configs: config_status and last_updated (seconds as an int64, nanos). */
  generic: Array<{ status: number; seconds?: bigint; nanos?: number }>;
  /** Deprecated xds_config statuses. */
  legacy: number[];
}

/** Encodes by hand, so map entries can repeat, come value-first or have odd values. */
function encodeWire({ nodeId, metadata, generic, legacy }: WireClientConfig): Buffer {
  const writer = protobuf.Writer.create();
  writer.uint32((1 << 3) | 2).fork(); // ClientConfig.node
  writer.uint32((1 << 3) | 2).string(nodeId);
  writer.uint32((3 << 3) | 2).fork(); // Node.metadata
  for (const { key, value, valueFirst } of metadata) {
    writer.uint32((1 << 3) | 2).fork(); // Struct.fields entry
    const writeValue = () => {
      if (value === undefined) return;
      writer.uint32((2 << 3) | 2).fork();
      if (typeof value === 'string') writer.uint32((3 << 3) | 2).string(value);
      else writer.uint32((2 << 3) | 1).double(value);
      writer.ldelim();
    };
    if (valueFirst) writeValue();
    if (key !== undefined) writer.uint32((1 << 3) | 2).string(key);
    if (!valueFirst) writeValue();
    writer.ldelim();
  }
  writer.ldelim().ldelim();
  for (const status of legacy)
    writer
      .uint32((2 << 3) | 2)
      .fork()
      .uint32((1 << 3) | 0)
      .int32(status)
      .ldelim();
  for (const { status, seconds, nanos } of generic) {
    writer.uint32((3 << 3) | 2).fork();
    writer.uint32((1 << 3) | 2).string(CDS);
    if (seconds !== undefined) {
      writer.uint32((5 << 3) | 2).fork();
      writer.uint32((1 << 3) | 0).int64(seconds.toString()); // a decimal string: protobufjs parses it exactly (long.js)
      if (nanos !== undefined) writer.uint32((2 << 3) | 0).int32(nanos);
      writer.ldelim();
    }
    writer.uint32((6 << 3) | 0).int32(status);
    writer.ldelim();
  }
  return Buffer.from(writer.finish());
}

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

/** The merge as first written (one Map keyed by JSON of cluster and node id), as the reference. */
function referenceMerge(perReplica: ProtoAny[][]): ProtoAny[] {
  const byProxy = new Map<string, Array<{ stale: boolean; lastUpdatedMs: number; resource: ProtoAny }>>();
  const passthrough: ProtoAny[] = [];
  for (const resources of perReplica) {
    for (const resource of resources) {
      const key = readClientConfigKey(resource.value);
      if (!key.nodeId) {
        passthrough.push(resource);
        continue;
      }
      const proxy = JSON.stringify([key.clusterId, key.nodeId]);
      byProxy.set(proxy, [...(byProxy.get(proxy) ?? []), { ...key, resource }]);
    }
  }
  const winners = [...byProxy.values()].map((copies) =>
    copies.reduce((best, copy) =>
      copy.stale !== best.stale ? (copy.stale ? best : copy) : copy.lastUpdatedMs > best.lastUpdatedMs ? copy : best,
    ),
  );
  return [...winners.map((copy) => copy.resource), ...passthrough];
}

describe('SynczStrategy on many proxies', () => {
  it('keeps the order of first appearance and the live copy across hundreds of proxies, clusters and duplicates (property)', () => {
    const proxy = fc.record({
      node: fc.integer({ min: 0, max: 150 }),
      cluster: fc.constantFrom('', 'east', 'west', 'Kubernetes'),
      status: fc.constantFrom(1, 3),
      minute: fc.integer({ min: 0, max: 3 }),
    });
    fc.assert(
      fc.property(fc.array(fc.array(proxy, { maxLength: 120 }), { minLength: 1, maxLength: 4 }), (replicas) => {
        const perReplica = replicas.map((proxies) =>
          proxies.map(({ node, cluster, status, minute }) => ({
            type_url: CLIENT_CONFIG_TYPE_URL,
            value: encodeWire({
              nodeId: `pod-${node}.ns`,
              metadata: cluster ? [{ key: 'CLUSTER_ID', value: cluster }] : [],
              generic: [{ status, seconds: BigInt(1_767_225_600 + minute * 60) }],
              legacy: [],
            }),
          })),
        );
        const merged = merge(perReplica);
        const expected = referenceMerge(perReplica);
        expect(merged.length).toBe(expected.length);
        merged.forEach((resource, i) => expect(resource).toBe(expected[i]));
      }),
      { numRuns: 60 },
    );
  });
});
