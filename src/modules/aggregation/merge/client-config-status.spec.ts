import { describe, expect, it } from 'vitest';
import { envoyTypes } from '../../../common/proto.js';
import { readProxySyncStatus, rfc3339, shortType } from './client-config-status.js';

const TYPE_PREFIX = 'type.googleapis.com/';

function encode(object: Record<string, unknown>): Uint8Array {
  const ClientConfig = envoyTypes().lookupType('envoy.service.status.v3.ClientConfig');
  return ClientConfig.encode(ClientConfig.fromObject(object)).finish();
}

describe('readProxySyncStatus', () => {
  it('reads node id, CLUSTER_ID and ISTIO_VERSION by key, whatever the metadata order', () => {
    const metadata = {
      fields: { ISTIO_VERSION: { stringValue: '1.27.3' }, PAD: { stringValue: 'x'.repeat(500) }, CLUSTER_ID: { stringValue: 'east' } },
    };
    const status = readProxySyncStatus(encode({ node: { id: 'a-1.ns', metadata } }));
    expect(status).toEqual({ nodeId: 'a-1.ns', clusterId: 'east', istioVersion: '1.27.3', lastUpdated: null, types: {} });
  });

  it('maps every type to istio’s short name and status, and keeps the newest last_updated to the millisecond', () => {
    const status = readProxySyncStatus(
      encode({
        node: { id: 'a.ns' },
        generic_xds_configs: [
          {
            type_url: `${TYPE_PREFIX}envoy.config.listener.v3.Listener`,
            config_status: 'ERROR',
            last_updated: { seconds: 1767225600, nanos: 5e8 },
          },
          {
            type_url: `${TYPE_PREFIX}istio.workload.Address`,
            config_status: 'STALE',
            last_updated: { seconds: 1767225660, nanos: 123456789 },
          },
          { type_url: `${TYPE_PREFIX}istio.security.Authorization`, config_status: 'NOT_SENT' },
          { type_url: `${TYPE_PREFIX}x.Y` },
        ],
      }),
    );
    expect(status.types).toEqual({ LDS: 'ERROR', WDS: 'STALE', WADS: 'NOT_SENT', [`${TYPE_PREFIX}x.Y`]: 'UNKNOWN' });
    expect(status.lastUpdated).toBe('2026-01-01T00:01:00.123Z');
  });

  it('reads last_updated before 1970 (a negative int64) as protobufjs does', () => {
    const status = readProxySyncStatus(
      encode({
        node: { id: 'a.ns' },
        generic_xds_configs: [{ type_url: `${TYPE_PREFIX}x.Y`, config_status: 'SYNCED', last_updated: { seconds: -86_399, nanos: 5e8 } }],
      }),
    );
    expect(status.lastUpdated).toBe('1969-12-31T00:00:01.500Z');
  });

  it('reads the deprecated xds_config entries (type from the oneof that is set)', () => {
    const status = readProxySyncStatus(
      encode({
        node: { id: 'old.ns' },
        xds_config: [
          { status: 'SYNCED', cluster_config: {} },
          { status: 'STALE', route_config: {} },
        ],
      }),
    );
    expect(status.types).toEqual({ CDS: 'SYNCED', RDS: 'STALE' });
  });

  it('formats timestamps like protojson, and gives up on dates JavaScript cannot hold', () => {
    expect(rfc3339(Date.parse('2026-01-01T00:00:00Z'))).toBe('2026-01-01T00:00:00Z');
    expect(rfc3339(Date.parse('2026-01-01T00:00:00.250Z'))).toBe('2026-01-01T00:00:00.250Z');
    expect(rfc3339(1e20)).toBeNull();
    expect(shortType(`${TYPE_PREFIX}envoy.config.cluster.v3.Cluster`)).toBe('CDS');
  });
});
