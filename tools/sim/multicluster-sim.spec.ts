import { gunzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { TO_OBJECT_OPTIONS, adsClientConstructor, envoyTypes } from '../../src/common/proto.js';
import { stringStruct, type DiscoveryRequest, type DiscoveryResponse } from '../../src/common/xds-types.js';
import { encodeClientConfig } from './client-config.encoder.js';
import type { MeshView } from './debug-documents.js';
import { debugRunMs } from './debug-endpoints.js';
import { answerDelayMs, generateResources } from './debug-generators.js';
import { SimulatedIstiod } from './istiod-simulator.js';
import {
  EAST_CLUSTER,
  POD_IN_BOTH_CLUSTERS,
  RECONNECTED_WITH_STALE_COPY,
  WEST_CLUSTER,
  buildMulticlusterMesh,
  deadCopyOf,
  findPodOnThird,
} from './mesh-fixtures.js';
import { XDS_TYPE_URLS, type SimulatedProxy } from './simulated-proxy.js';
import { defaultKnobs, type SimulatorKnobs } from './simulator-knobs.js';

const NOW = new Date('2026-08-22T15:00:00Z');
const ISTIOCTL_NODE = {
  id: 'sidecar~10.1.2.3~test-1.default~default.svc.cluster.local',
  metadata: stringStruct({ GENERATOR: 'event', SERVICE_ACCOUNT: 'default', NAMESPACE: 'istio-system', ISTIO_VERSION: '65536.65536.65536' }),
};

function debugRequest(resourceName: string): DiscoveryRequest {
  return { version_info: '', node: null, resource_names: [resourceName], type_url: 'istio.io/debug', response_nonce: '' };
}

function view(proxies: SimulatedProxy[], podName = 'istiod-a'): MeshView {
  return {
    podName,
    version: '1.27.3',
    istiodNamespace: 'istio-system',
    now: NOW,
    connections: proxies.map((proxy, i) => ({ proxy, connectionId: `${proxy.id}-${i + 1}`, connectedAt: NOW })),
  };
}

function debug(resourceName: string, proxies: SimulatedProxy[], knobs: Partial<SimulatorKnobs> = {}): Buffer {
  const [resource] = generateResources(debugRequest(resourceName), {
    view: view(proxies),
    knobs: { ...defaultKnobs(), ...knobs },
    debugBodies: {},
    caller: undefined,
  });
  return Buffer.from(resource.value);
}

const proxy = (id: string, clusterId?: string): SimulatedProxy => ({ id, namespace: id.split('.')[1], istioVersion: '1.27.3', clusterId });

describe('multicluster fixtures', () => {
  const mesh = buildMulticlusterMesh({ now: NOW });
  const all = mesh.flatMap((istiod) => (istiod.proxies ?? []).map((p) => ({ replica: istiod.podName, ...p })));

  it('serves east and west from every replica, with one pod name in both clusters', () => {
    for (const istiod of mesh) expect(new Set(istiod.proxies?.map((p) => p.clusterId))).toEqual(new Set([EAST_CLUSTER, WEST_CLUSTER]));
    const twins = all.filter((p) => p.id === POD_IN_BOTH_CLUSTERS);
    expect(twins.map((p) => [p.replica, p.clusterId])).toEqual([
      [mesh[0].podName, EAST_CLUSTER],
      [mesh[1].podName, WEST_CLUSTER],
    ]);
  });

  it('leaves a dead STALE copy with newer pushes beside the live SYNCED one', () => {
    const copies = all.filter((p) => p.id === RECONNECTED_WITH_STALE_COPY);
    expect(copies.map((p) => p.replica)).toEqual([mesh[1].podName, mesh[2].podName]);
    const [live, dead] = copies;
    const newest = (p: SimulatedProxy) => Math.max(...(p.types ?? []).map((t) => t.lastUpdated?.getTime() ?? 0));
    expect(newest(dead)).toBeGreaterThan(newest(live));
    expect(dead.types?.some((t) => t.status === 'STALE')).toBe(true);
    expect(live.types?.some((t) => t.status === 'STALE')).toBe(false);
    expect(live.clusterId).toBe(dead.clusterId);
  });

  it('gives the replicas different clusterz states and keeps a pod of the third replica only', () => {
    expect(mesh.map((istiod) => istiod.knobs?.clusterSync?.[WEST_CLUSTER])).toEqual(['synced', 'synced', 'timeout']);
    expect(mesh[2].proxies?.map((p) => p.id)).toContain(findPodOnThird(mesh));
  });

  it('deadCopyOf marks the types pushed since as STALE, newer than the live copy', () => {
    const live: SimulatedProxy = { ...proxy('a-0.ns'), types: [{ typeUrl: 'x', status: 'NOT_SENT' }] };
    expect(deadCopyOf(live, NOW).types).toEqual([{ typeUrl: 'x', status: 'NOT_SENT' }]);
  });
});

describe('simulated debug bodies for multicluster merges', () => {
  it('clusterz: the clusters of this replica, with the states of the clusterSync knob', () => {
    const proxies = [proxy('a-0.ns', 'east'), proxy('b-0.ns', 'west')];
    expect(JSON.parse(debug('clusterz', proxies).toString())).toEqual([
      { id: 'east', secretName: 'istio-remote-secret-east', syncStatus: 'synced' },
      { id: 'west', secretName: 'istio-remote-secret-west', syncStatus: 'synced' },
    ]);
    expect(JSON.parse(debug('clusterz', proxies, { clusterSync: { west: 'timeout', north: 'syncing' } }).toString())).toEqual([
      { id: 'east', secretName: 'istio-remote-secret-east', syncStatus: 'synced' },
      { id: 'north', secretName: 'istio-remote-secret-north', syncStatus: 'syncing' },
      { id: 'west', secretName: 'istio-remote-secret-west', syncStatus: 'timeout' },
    ]);
    expect(JSON.parse(debug('clusterz', []).toString())).toEqual([{ id: 'Kubernetes', secretName: '', syncStatus: 'synced' }]);
  });

  it('syncz: cluster_id per entry, push-version nonces, acked ≠ sent for STALE', () => {
    const live: SimulatedProxy = {
      ...proxy('r-0.ns', 'east'),
      types: [{ typeUrl: XDS_TYPE_URLS.CDS, status: 'SYNCED', lastUpdated: NOW }],
    };
    const dead = deadCopyOf(
      { ...live, types: [...(live.types ?? []), { typeUrl: XDS_TYPE_URLS.RDS, status: 'SYNCED', lastUpdated: NOW }] },
      new Date(NOW.getTime() + 60_000),
      0,
    );
    const [liveEntry, deadEntry] = JSON.parse(debug('syncz', [live, dead]).toString()) as Record<string, string>[];
    expect(liveEntry).toMatchObject({ cluster_id: 'east', proxy: 'r-0.ns' });
    expect(liveEntry.cluster_sent).toMatch(/^2026-08-22T15:00:00Z\/\d+[0-9a-f-]{36}$/);
    expect(liveEntry.cluster_acked).toBe(liveEntry.cluster_sent);
    expect(deadEntry.route_sent.startsWith('2026-08-22T15:01:00Z/')).toBe(true);
    expect(deadEntry.route_acked).not.toBe(deadEntry.route_sent);
  });

  it('syncz ClientConfig: the same node metadata in reverse entry order, so other bytes', () => {
    const p = proxy('r-0.ns', 'east');
    const straight = encodeClientConfig(p, { now: NOW, legacy: false });
    const reversed = encodeClientConfig(p, { now: NOW, legacy: false, reverseMetadata: true });
    expect(Buffer.compare(straight, reversed)).not.toBe(0);
    const ClientConfig = envoyTypes().lookupType('envoy.service.status.v3.ClientConfig');
    const fieldsOf = (bytes: Uint8Array) =>
      (ClientConfig.toObject(ClientConfig.decode(bytes), TO_OBJECT_OPTIONS) as { node: { metadata: { fields: object } } }).node.metadata
        .fields;
    expect(Object.keys(fieldsOf(reversed))).toEqual(Object.keys(fieldsOf(straight)).reverse());
    expect(fieldsOf(reversed)).toEqual(fieldsOf(straight));
  });

  it('pprof: binary profiles naming the replica, run times from ?seconds', () => {
    const cpu = debug('pprof/profile?seconds=2', []);
    expect([...cpu.subarray(0, 2)]).toEqual([0x1f, 0x8b]);
    expect(gunzipSync(cpu).toString()).toBe('simulated cpu profile of istiod-a (2 s)\n');
    expect(gunzipSync(debug('pprof/heap', [])).toString()).toContain('heap profile of istiod-a');
    expect(debug('pprof/', []).toString()).toContain('/debug/pprof/');
    expect(debugRunMs('pprof/profile')).toBe(30_000);
    expect(debugRunMs('pprof/profile?seconds=2')).toBe(2_000);
    expect(debugRunMs('/debug/pprof/trace')).toBe(1_000);
    expect(debugRunMs('pprof/heap')).toBe(0);
    expect(answerDelayMs(debugRequest('pprof/trace?seconds=3'))).toBe(3_000);
    expect(answerDelayMs(debugRequest('syncz'))).toBe(0);
  });
});

describe('SimulatedIstiod with initial knobs', () => {
  it('starts with the given knobs and answers a CPU profile after its seconds', async () => {
    const sut = new SimulatedIstiod({
      podName: 'istiod-knobs-0',
      version: '1.27.3',
      proxies: [proxy('a-0.ns', 'east')],
      knobs: { clusterSync: { west: 'closed' } },
    });
    expect(sut.knobs).toMatchObject({ ...defaultKnobs(), clusterSync: { west: 'closed' } });
    await sut.start();
    const Client = adsClientConstructor();
    const client = new Client(sut.address, grpc.credentials.createInsecure()) as unknown as {
      StreamAggregatedResources(metadata: grpc.Metadata): grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse>;
      close(): void;
    };
    try {
      const stream = client.StreamAggregatedResources(new grpc.Metadata());
      stream.on('error', () => undefined);
      const started = Date.now();
      const answered = new Promise<DiscoveryResponse>((resolve) => stream.once('data', resolve));
      stream.write({ ...debugRequest('pprof/profile?seconds=0.3'), node: ISTIOCTL_NODE });
      const response = await answered;
      expect(Date.now() - started).toBeGreaterThanOrEqual(290);
      expect(gunzipSync(Buffer.from(response.resources[0].value)).toString()).toContain('istiod-knobs-0');
      stream.cancel();
    } finally {
      client.close();
      await sut.stop();
    }
  });
});
