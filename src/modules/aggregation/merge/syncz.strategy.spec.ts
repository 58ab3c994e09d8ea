import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { envoyTypes, typeUrlOf } from '../../../common/proto.js';
import { ProtoAny } from '../../../common/xds-types.js';
import { answer, clientConfigAny, request, response } from '../../../../test/kit/xds-fixtures.js';
import { readClientConfigKey } from './client-config-reader.js';
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
