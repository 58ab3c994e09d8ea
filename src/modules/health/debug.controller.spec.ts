import { describe, expect, it } from 'vitest';
import { instance } from '../../../test/kit/xds-fixtures.js';
import { IstiodClientPool } from '../aggregation/istiod.client.js';
import { InstanceHealth } from '../aggregation/instance-health.js';
import { DiscoveryService } from '../discovery/discovery.service.js';
import { DebugController } from './debug.controller.js';

describe('DebugController.instances', () => {
  it('lists every discovered istiod with its channel state and what it did last', () => {
    const discovery: Pick<DiscoveryService, 'snapshot' | 'synced' | 'describeScope'> = {
      snapshot: () => [instance('istiod-a'), instance('istiod-b', 15010)],
      synced: true,
      describeScope: () => 'namespace istio-system (selector app=istiod)',
    };
    const health: Pick<InstanceHealth, 'get'> = {
      get: (name) => (name === 'istiod-a' ? { lastAnswerAt: '2026-01-01T00:00:00.000Z', lastLatencyMs: 12 } : {}),
    };
    const pool: Pick<IstiodClientPool, 'channelState'> = { channelState: (name) => (name === 'istiod-a' ? 'READY' : 'NONE') };
    const sut = new DebugController(discovery as DiscoveryService, health as InstanceHealth, pool as IstiodClientPool);

    expect(sut.instances()).toEqual({
      scope: 'namespace istio-system (selector app=istiod)',
      synced: true,
      instances: [
        {
          name: 'istiod-a',
          address: '127.0.0.1',
          port: 15012,
          revision: 'default',
          ready: true,
          channelState: 'READY',
          lastAnswerAt: '2026-01-01T00:00:00.000Z',
          lastLatencyMs: 12,
        },
        { name: 'istiod-b', address: '127.0.0.1', port: 15010, revision: 'default', ready: true, channelState: 'NONE' },
      ],
    });
  });
});
