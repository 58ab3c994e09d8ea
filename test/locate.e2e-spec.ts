import { status } from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DiscoveryResponse } from '../src/common/xds-types.js';
import {
  buildMulticlusterMesh,
  EAST_CLUSTER,
  POD_IN_BOTH_CLUSTERS,
  RECONNECTED_WITH_STALE_COPY,
  WEST_CLUSTER,
} from '../tools/sim/mesh-fixtures.js';
import type { Located } from './kit/locate-document.js';
import { startMesh, type MeshHarness } from './kit/mesh-harness.js';

const DEBUG = 'istio.io/debug';
const SYNCZ = 'istio.io/debug/syncz';
const MISSING_PROXY_ID = 'You must provide a proxyID in the query string\n';
/** Only on the first replica of the fixture (istiod-7d4b9c8f6-abcde), in cluster east. */
const PRODUCTPAGE = 'productpage-v1-6b746f74dc-9stvs.bookinfo';
/** In namespace default, on istiod-7d4b9c8f6-abcde. */
const SLEEP = 'sleep-7b9f8c6d5-q4wzn.default';

interface Replicas {
  replicas: Array<{
    istiod: string;
    outcome: string;
    version?: string;
    revision?: string;
    proxies?: number;
    error?: string;
    last_answer_at?: string;
  }>;
}

const bodyOf = (response: DiscoveryResponse) => {
  expect(response.type_url).toBe(DEBUG);
  expect(response.resources).toHaveLength(1);
  expect(response.resources[0].type_url).toBe(DEBUG);
  return Buffer.from(response.resources[0].value).toString('utf8');
};

describe('istioctl-proxy/locate and istioctl-proxy/replicas end to end (3 TLS istiods, real proxy over TLS)', () => {
  const fixture = buildMulticlusterMesh();
  let mesh: MeshHarness;
  /** Pod names in pod-name order: istiod-6f5d8c9b7-m7nq2 (holds the dead copy), -abcde, -x2k4q (the live one). */
  let byName: string[];
  /** istioctl's TLS mode (no verification); a DNS name as SNI, since an IP literal is not one. */
  const client = (overrides: Parameters<MeshHarness['client']>[0] = {}) => mesh.client({ serverName: 'localhost', ...overrides });
  const debug = async (path: string, overrides: Parameters<MeshHarness['client']>[0] = {}) =>
    bodyOf((await client(overrides).request(DEBUG, [path])).response);
  const locate = async (query: string, overrides: Parameters<MeshHarness['client']>[0] = {}) =>
    JSON.parse(await debug(`istioctl-proxy/locate?${query}`, overrides)) as Located;

  beforeAll(async () => {
    mesh = await startMesh({ istiods: fixture, tls: true });
    byName = mesh.istiods.map((istiod) => istiod.podName).sort();
  });
  afterAll(async () => mesh?.stop());
  afterEach(() => {
    for (const istiod of mesh.istiods) Object.assign(istiod.knobs, { namespaceFilter: false, notReady: false });
  });

  it('finds a proxy held by one replica, asking every replica’s syncz with the caller’s own token', async () => {
    const before = mesh.istiods.map((istiod) => istiod.streams.length);
    const found = await locate(`proxyID=${PRODUCTPAGE}`);
    expect(found.proxy).toBe(PRODUCTPAGE);
    expect(found.missing).toBeUndefined();
    expect(found.replicas).toHaveLength(1);
    const [entry] = found.replicas;
    expect(entry).toMatchObject({ istiod: 'istiod-7d4b9c8f6-abcde', cluster_id: EAST_CLUSTER, istio_version: '1.27.3' });
    expect(Object.keys(entry.types)).toEqual(['CDS', 'LDS', 'EDS', 'RDS', 'ECDS']);
    expect(Object.values(entry.types).every((value) => value === 'SYNCED')).toBe(true);
    expect(Date.parse(entry.last_updated ?? '')).toBeGreaterThan(Date.now() - 10 * 60_000);
    for (const [i, istiod] of mesh.istiods.entries()) {
      const streams = istiod.streams.slice(before[i]);
      expect(streams.flatMap((stream) => stream.requests.map((r) => [r.type_url, r.resource_names]))).toEqual([[SYNCZ, []]]);
      expect(streams[0].metadata.authorization).toBe(`Bearer ${mesh.istioctlToken}`);
    }
  });

  it('lists both replicas of a reconnected proxy in pod-name order; the dead copy shows STALE', async () => {
    const found = await locate(`proxyID=${RECONNECTED_WITH_STALE_COPY}`);
    expect(found.replicas.map((entry) => entry.istiod)).toEqual(['istiod-6f5d8c9b7-m7nq2', 'istiod-7d4b9c8f6-x2k4q']);
    expect(byName.indexOf(found.replicas[0].istiod)).toBeLessThan(byName.indexOf(found.replicas[1].istiod));
    const [dead, live] = found.replicas;
    expect(dead.types).toEqual({ CDS: 'SYNCED', LDS: 'SYNCED', EDS: 'STALE', RDS: 'STALE' });
    expect(live.types).toEqual({ CDS: 'SYNCED', LDS: 'SYNCED', EDS: 'SYNCED', RDS: 'SYNCED' });
    expect(Date.parse(dead.last_updated ?? '')).toBeGreaterThan(Date.parse(live.last_updated ?? '')); // newer pushes, never acked
    expect(found.replicas.every((entry) => entry.cluster_id === EAST_CLUSTER && entry.istio_version === '1.26.1')).toBe(true);
  });

  it('keeps the same pod.ns of two clusters apart, and &cluster= picks one', async () => {
    const both = await locate(`proxyID=${POD_IN_BOTH_CLUSTERS}`);
    expect(both.replicas.map((entry) => [entry.istiod, entry.cluster_id])).toEqual([
      ['istiod-7d4b9c8f6-abcde', EAST_CLUSTER],
      ['istiod-7d4b9c8f6-x2k4q', WEST_CLUSTER],
    ]);
    const west = await locate(`proxyID=${POD_IN_BOTH_CLUSTERS}&cluster=${WEST_CLUSTER}`);
    expect(west.replicas.map((entry) => entry.istiod)).toEqual(['istiod-7d4b9c8f6-x2k4q']);
  });

  it('answers an empty list for a proxy nobody holds, istiod’s text without proxyID, and indents with ?pretty', async () => {
    expect(await debug('istioctl-proxy/locate?proxyID=nope-1.bookinfo')).toBe('{"proxy":"nope-1.bookinfo","replicas":[]}');
    expect(await debug('istioctl-proxy/locate')).toBe(MISSING_PROXY_ID);
    const pretty = await debug(`istioctl-proxy/locate?proxyID=${PRODUCTPAGE}&pretty`);
    expect(pretty).toMatch(/^\{\n {2}"proxy": "productpage/);
  });

  it('a caller outside the root namespace sees only its own namespace’s proxies (istiod’s filter on syncz)', async () => {
    for (const istiod of mesh.istiods) istiod.knobs.namespaceFilter = true;
    const token = await mesh.tokens.mint({ namespace: 'default', serviceAccount: 'default' });
    const limited = { token, istioNamespace: 'default' };
    expect((await locate(`proxyID=${RECONNECTED_WITH_STALE_COPY}`, limited)).replicas).toEqual([]);
    const own = await locate(`proxyID=${SLEEP}`, limited);
    expect(own.replicas.map((entry) => entry.istiod)).toEqual(['istiod-7d4b9c8f6-abcde']);
    // The same caller may not read istiod's own syncz debug body at all; the root caller still sees everything.
    await expect(client(limited).request(DEBUG, ['syncz'])).rejects.toMatchObject({ code: status.PERMISSION_DENIED });
    expect((await locate(`proxyID=${RECONNECTED_WITH_STALE_COPY}`)).replicas).toHaveLength(2);
  });

  it('goes through the same guard: no token, no fan-out', async () => {
    const before = mesh.istiods.map((istiod) => istiod.streams.length);
    await expect(client({ token: undefined }).request(DEBUG, [`istioctl-proxy/locate?proxyID=${PRODUCTPAGE}`])).rejects.toMatchObject({
      code: status.UNAUTHENTICATED,
    });
    expect(mesh.istiods.map((istiod) => istiod.streams.length)).toEqual(before);
  });

  it('replicas: version and revision from each replica’s control_plane, proxy count and outcome, in pod-name order', async () => {
    const { replicas } = JSON.parse(await debug('istioctl-proxy/replicas')) as Replicas;
    expect(replicas.map((replica) => replica.istiod)).toEqual(byName);
    for (const replica of replicas) {
      const istiod = mesh.istiods.find((candidate) => candidate.podName === replica.istiod);
      const info = (JSON.parse(istiod?.controlPlaneIdentifier ?? '{}') as { Info: Record<string, string> }).Info;
      expect(replica).toMatchObject({
        outcome: 'answered',
        version: info.version,
        revision: info.revision,
        proxies: istiod?.proxies.length,
      });
      expect(Date.parse(replica.last_answer_at ?? '')).toBeGreaterThan(Date.now() - 60_000);
    }
    expect(replicas[0].version).toBe('1.26.1');
  });

  it('a replica that fails is listed as failed by replicas and named in locate’s missing', async () => {
    const down = mesh.istiods.find((istiod) => istiod.podName === 'istiod-7d4b9c8f6-x2k4q');
    if (!down) throw new Error('fixture changed');
    down.knobs.notReady = true;
    const { replicas } = JSON.parse(await debug('istioctl-proxy/replicas')) as Replicas;
    expect(replicas.map((replica) => [replica.istiod, replica.outcome])).toEqual(
      byName.map((name) => [name, name === down.podName ? 'failed' : 'answered']),
    );
    expect(replicas.find((replica) => replica.outcome === 'failed')?.error).toContain('server is not ready to serve discovery information');
    const { response, headers } = await client().request(DEBUG, [`istioctl-proxy/locate?proxyID=${RECONNECTED_WITH_STALE_COPY}`]);
    const partial = JSON.parse(bodyOf(response)) as Located;
    expect(partial.replicas.map((entry) => entry.istiod)).toEqual(['istiod-6f5d8c9b7-m7nq2']);
    expect(partial.missing).toEqual([down.podName]);
    expect(headers['x-istioctl-proxy-missing']).toBe(down.podName);
  });

  it('list names the proxy’s own paths next to istiod’s', async () => {
    const paths = JSON.parse(await debug('list')) as string[];
    expect(paths).toEqual(expect.arrayContaining(['istioctl-proxy/locate', 'istioctl-proxy/replicas', 'syncz', 'config_dump']));
    expect([...paths].sort()).toEqual(paths);
  });
});
