import { describe, expect, it } from 'vitest';
import { envoyTypes, typeUrlOf } from '../../src/common/proto.js';
import type { DiscoveryResponse, ProtoAny } from '../../src/common/xds-types.js';
import { formatProxyStatus } from './format.js';
import { proxyStatusTable } from './proxy-status-rows.js';

const NOW = new Date('2026-08-22T15:00:00Z');

function proxy(id: string, cluster: string): ProtoAny {
  const type = envoyTypes().lookupType('envoy.service.status.v3.ClientConfig');
  const message = type.fromObject({
    node: { id, metadata: { fields: { ISTIO_VERSION: { stringValue: '1.27.3' }, CLUSTER_ID: { stringValue: cluster } } } },
    generic_xds_configs: [{ type_url: typeUrlOf('envoy.config.cluster.v3.Cluster'), config_status: 'SYNCED' }],
  });
  return { type_url: typeUrlOf('envoy.service.status.v3.ClientConfig'), value: Buffer.from(type.encode(message).finish()) };
}

function syncz(resources: ProtoAny[]): DiscoveryResponse {
  const identifier = JSON.stringify({ Component: 'istiod', ID: '<external>', Info: { version: '1.27.3' } });
  return { version_info: '', resources, type_url: 'istio.io/debug/syncz', nonce: 'n', control_plane: { identifier } };
}

describe('proxy-status rows of a multicluster mesh', () => {
  it('prints the same pod name of two clusters as two rows, ordered by NAME then CLUSTER', () => {
    const response = syncz([proxy('mongodb-0.bookinfo', 'west'), proxy('a-0.ns', 'west'), proxy('mongodb-0.bookinfo', 'east')]);
    expect(proxyStatusTable(response, NOW).rows.map((row) => [row.proxyId, row.clusterId])).toEqual([
      ['a-0.ns', 'west'],
      ['mongodb-0.bookinfo', 'east'],
      ['mongodb-0.bookinfo', 'west'],
    ]);
    const lines = formatProxyStatus(response, NOW).trimEnd().split('\n');
    expect(lines[2]).toMatch(/^mongodb-0\.bookinfo\s+east\s+<external>/);
    expect(lines[3]).toMatch(/^mongodb-0\.bookinfo\s+west\s+<external>/);
  });
});
