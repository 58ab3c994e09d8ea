import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProtoAny } from '../../../common/xds-types.js';
import { clientConfigAny } from '../../../../test/kit/xds-fixtures.js';
import { CDS, encodeWire, LDS, mergeSyncz as merge, proxyAny, type ProxySpec } from '../../../../test/kit/syncz-client-config.js';
import { CLIENT_CONFIG_TYPE_URL, readClientConfigKey } from './client-config-reader.js';

// How syncz answers of several istiods merge; how one ClientConfig is read is client-config-reader.spec.ts.

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
