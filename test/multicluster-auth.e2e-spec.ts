import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningProxy } from '../src/bootstrap.js';
import { createCertificateAuthority } from '../src/modules/tls/pki.js';
import { XdsClient } from '../tools/cli/xds-client.js';
import { decodeClientConfigs } from '../tools/cli/xds-decoders.js';
import { XdsStatusError } from '../tools/cli/xds-errors.js';
import { SimulatedIstiod } from '../tools/sim/istiod-simulator.js';
import { buildDemoMesh } from '../tools/sim/mesh-fixtures.js';
import { freePort } from './kit/free-port.js';
import { serveTokenIssuer, type ReviewCounter } from './kit/issuer-routes.js';
import { istiodPod } from './kit/istiod-pod.js';
import { startKubeProxy } from './kit/kube-proxy.js';
import { captureLogs } from './kit/log-capture.js';
import { startMesh, type MeshHarness } from './kit/mesh-harness.js';
import { createTokenIssuer, type TokenIssuer } from './kit/test-tokens.js';
import { startEastWestMesh, stopEastWestMesh, type EastWestMesh } from './kit/test-cluster.js';
import { ISTIOD_CLUSTER, multiclusterIstiod, startTestCluster, type TestCluster as KitTestCluster } from './kit/test-cluster.js';
import { eventually } from './kit/wait-for.js';
import { failure } from './kit/xds-failure.js';

const SYNCZ = 'istio.io/debug/syncz';
const ISTIOCTL_SA = { namespace: 'istio-system', serviceAccount: 'default' };

/** One remote cluster: a test Kubernetes API that issues ServiceAccount tokens and reviews them. */
type TestCluster = KitTestCluster<ReviewCounter>;

const startCluster = (id: string, dir: string): Promise<TestCluster> => startTestCluster(id, dir, serveTokenIssuer);

const streamCount = (istiods: SimulatedIstiod[]) => istiods.reduce((sum, istiod) => sum + istiod.streams.length, 0);
const newStreams = (istiods: SimulatedIstiod[], before: number[]) => istiods.flatMap((istiod, i) => istiod.streams.slice(before[i]));
const streamCounts = (istiods: SimulatedIstiod[]) => istiods.map((istiod) => istiod.streams.length);

describe('AUTH_CLUSTERS: callers of several remote clusters behind one external istiod', () => {
  const logs = captureLogs('info');
  let running: EastWestMesh<ReviewCounter> | undefined;
  let east: TestCluster;
  let west: TestCluster;
  let istiodOwn: TokenIssuer;
  let mesh: MeshHarness;

  beforeAll(async () => {
    running = await startEastWestMesh('multicluster-auth-', serveTokenIssuer, { logger: logs.logger });
    ({ east, west, istiodOwn, mesh } = running);
  });
  afterAll(() => stopEastWestMesh(running));

  it.each(['east', 'west'])('serves a caller of %s, and every istiod reviews its token against that cluster', async (id) => {
    const cluster = id === 'east' ? east : west;
    const token = await cluster.tokens.mint(ISTIOCTL_SA);
    const before = streamCounts(mesh.istiods);
    const { response } = await mesh.client({ token }).request(SYNCZ);
    expect(decodeClientConfigs(response).length).toBeGreaterThan(0);
    const upstream = newStreams(mesh.istiods, before);
    expect(upstream).toHaveLength(mesh.istiods.length);
    for (const stream of upstream) {
      expect(stream.metadata).toMatchObject({ clusterid: id, authorization: `Bearer ${token}` });
      expect(stream.identity).toEqual(ISTIOCTL_SA);
    }
    const line = logs.withMessage('istioctl request').at(-1);
    expect(line).toMatchObject({ caller: 'system:serviceaccount:istio-system:default', cluster: id, code: 'OK' });
  });

  it('keeps the cluster with the cached review: a second request is reviewed by nobody and still sent as that cluster', async () => {
    const token = await west.tokens.mint(ISTIOCTL_SA);
    await mesh.client({ token }).request(SYNCZ);
    const reviewsBefore = [east.reviews.count, west.reviews.count];
    const before = streamCounts(mesh.istiods);
    await mesh.client({ token }).request(SYNCZ);
    expect([east.reviews.count, west.reviews.count]).toEqual(reviewsBefore);
    expect(newStreams(mesh.istiods, before).map((stream) => stream.metadata.clusterid)).toEqual(mesh.istiods.map(() => 'west'));
  });

  it('asks both clusters about a token, in parallel', async () => {
    const reviewsBefore = [east.reviews.count, west.reviews.count];
    east.reviews.delayMs = 600;
    west.reviews.delayMs = 600;
    try {
      const started = performance.now();
      await mesh.client({ token: await east.tokens.mint(ISTIOCTL_SA) }).request(SYNCZ);
      expect(performance.now() - started).toBeLessThan(1150);
    } finally {
      east.reviews.delayMs = 0;
      west.reviews.delayMs = 0;
    }
    expect([east.reviews.count - reviewsBefore[0], west.reviews.count - reviewsBefore[1]]).toEqual([1, 1]);
  });

  it('refuses a token no known cluster accepts with UNAUTHENTICATED, before any istiod is asked', async () => {
    const before = streamCount(mesh.istiods);
    // A token of istiod's own cluster: the proxy was not told about that one.
    const error = await failure(mesh.client({ token: await istiodOwn.mint(ISTIOCTL_SA) }).request(SYNCZ, [], { timeoutMs: 5000 }));
    expect(error.code).toBe(status.UNAUTHENTICATED);
    expect(error.details).toMatch(
      /^authentication failed: token rejected by all 2 known clusters \(east: token rejected by the Kubernetes API: .*; west: token rejected by the Kubernetes API: .*\)$/,
    );
    expect(streamCount(mesh.istiods)).toBe(before);
  });

  it('refuses a caller whose clusterid is not the cluster that issued its token with PERMISSION_DENIED, before any istiod is asked', async () => {
    const token = await west.tokens.mint(ISTIOCTL_SA);
    const before = streamCount(mesh.istiods);
    const error = await failure(mesh.client({ token, metadata: { clusterid: 'east' } }).request(SYNCZ, [], { timeoutMs: 5000 }));
    expect(error.code).toBe(status.PERMISSION_DENIED);
    expect(error.details).toBe('clusterid "east" does not match the cluster "west" that issued the token');
    expect(streamCount(mesh.istiods)).toBe(before);
  });

  it('serves a caller that names its own cluster in clusterid', async () => {
    const token = await west.tokens.mint(ISTIOCTL_SA);
    const before = streamCounts(mesh.istiods);
    await mesh.client({ token, metadata: { clusterid: 'west' } }).request(SYNCZ);
    expect(newStreams(mesh.istiods, before).map((stream) => stream.metadata.clusterid)).toEqual(mesh.istiods.map(() => 'west'));
  });
});

describe('AUTH_MODE=none with several clusters behind istiod', () => {
  let dir: string;
  let west: TestCluster;
  let mesh: MeshHarness;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'multicluster-none-'));
    west = await startCluster('west', dir);
    const istiodOwn = await createTokenIssuer();
    const knowsWest = multiclusterIstiod(istiodOwn, [west]);
    mesh = await startMesh({
      istiods: buildDemoMesh().map((replica) => ({ ...replica, ...knowsWest })),
      tokens: istiodOwn,
      env: { AUTH_MODE: 'none', JWT_JWKS_FILE: '', JWT_ISSUER: '' },
    });
  });
  afterAll(async () => {
    await mesh?.stop();
    await west?.kube.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("forwards the caller's own clusterid unchanged, so istiod reviews the token against that cluster", async () => {
    const token = await west.tokens.mint(ISTIOCTL_SA);
    const before = streamCounts(mesh.istiods);
    const { response } = await mesh.client({ token, metadata: { clusterid: 'west' } }).request(SYNCZ);
    expect(decodeClientConfigs(response).length).toBeGreaterThan(0);
    const upstream = newStreams(mesh.istiods, before);
    expect(upstream.map((stream) => stream.metadata.clusterid)).toEqual(mesh.istiods.map(() => 'west'));
    expect(upstream.every((stream) => stream.identity?.serviceAccount === 'default')).toBe(true);
  });

  it('adds no clusterid of its own: without one, istiod reviews against its own cluster and refuses', async () => {
    const token = await west.tokens.mint(ISTIOCTL_SA);
    const before = streamCounts(mesh.istiods);
    const error = await failure(mesh.client({ token }).request(SYNCZ, [], { timeoutMs: 5000 }));
    expect(error.code).toBe(status.UNAUTHENTICATED);
    expect(error.details).toContain('authentication failure');
    expect(newStreams(mesh.istiods, before).map((stream) => stream.metadata.clusterid)).toEqual(mesh.istiods.map(() => undefined));
  });
});

describe('AUTH_CLUSTERS_FROM_REMOTE_SECRETS: clusters learned from istiod remote secrets while serving', () => {
  const NS = 'istio-system';
  const SECRET = 'istio-remote-secret-west';
  const LABELS = { 'istio/multiCluster': 'true' };
  let dir: string;
  let home: TestCluster;
  let west: TestCluster;
  let istiods: SimulatedIstiod[];
  let proxy: RunningProxy;
  let address: string;
  const clients: XdsClient[] = [];

  const client = (token: string) => {
    const created = new XdsClient({ address, plaintext: true, token });
    clients.push(created);
    return created;
  };
  /** 'OK:<clusterid istiod saw>' or the status code name. */
  const outcome = async (token: string): Promise<string> => {
    const before = streamCounts(istiods);
    try {
      await client(token).request(SYNCZ, [], { timeoutMs: 5000 });
      return `OK:${newStreams(istiods, before)[0]?.metadata.clusterid}`;
    } catch (err) {
      return status[(err as XdsStatusError).code];
    }
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'multicluster-secrets-'));
    // The discovery cluster holds the istiod pods and the remote secrets, and is istiod's own cluster.
    [home, west] = await Promise.all([startCluster(ISTIOD_CLUSTER, dir), startCluster('west', dir)]);
    const ca = await createCertificateAuthority();
    home.kube.upsertConfigMap(NS, 'istio-ca-root-cert', { 'root-cert.pem': ca.certPem });
    const serving = await ca.issue({ commonName: 'istiod', dnsNames: [`istiod.${NS}.svc`] });
    const podIps = ['127.0.0.5', '127.0.0.6'];
    const port = await freePort(podIps[0]);
    istiods = podIps.map(
      (host, i) =>
        new SimulatedIstiod({
          podName: `istiod-6c9d7f8b5-pod${i}`,
          version: '1.27.3',
          host,
          port,
          tls: serving,
          proxies: [{ id: `app-${i}-7f8d9c6b5-abcde.bookinfo`, namespace: 'bookinfo', istioVersion: '1.27.3' }],
          ...multiclusterIstiod(home.tokens, [west]),
        }),
    );
    await Promise.all(istiods.map((istiod) => istiod.start()));
    istiods.forEach((istiod, i) => home.kube.upsertPod(istiodPod({ name: istiod.podName, ip: podIps[i] })));
    ({ proxy, address } = await startKubeProxy(home.kube, dir, {
      ISTIOD_PORT: String(port),
      AUTH_MODE: 'tokenreview',
      AUTH_CLUSTER_ID: ISTIOD_CLUSTER,
      AUTH_CLUSTERS_FROM_REMOTE_SECRETS: 'true',
    }));
  });
  afterAll(async () => {
    for (const created of clients) created.close();
    await proxy?.close();
    await Promise.all((istiods ?? []).map((istiod) => istiod.stop()));
    await Promise.all([home?.kube.stop(), west?.kube.stop()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves callers of its own cluster under AUTH_CLUSTER_ID, and refuses a remote caller before its Secret exists', async () => {
    expect(
      await eventually(
        async () => outcome(await home.tokens.mint(ISTIOCTL_SA)),
        (result) => result.startsWith('OK'),
      ),
    ).toBe(`OK:${ISTIOD_CLUSTER}`);
    const before = streamCount(istiods);
    expect(await outcome(await west.tokens.mint(ISTIOCTL_SA))).toBe('UNAUTHENTICATED');
    expect(streamCount(istiods)).toBe(before);
  });

  it('serves callers of a cluster once its remote secret is added, and refuses them once it is deleted', async () => {
    const token = await west.tokens.mint(ISTIOCTL_SA);
    // What `istioctl create-remote-secret --name west` writes.
    home.kube.upsertSecret(NS, SECRET, { west: Buffer.from(west.kube.kubeconfigYaml()).toString('base64') }, LABELS);
    expect(
      await eventually(
        () => outcome(token),
        (result) => result !== 'UNAUTHENTICATED',
      ),
    ).toBe('OK:west');

    home.kube.deleteSecret(NS, SECRET);
    expect(
      await eventually(
        () => outcome(token),
        (result) => result !== 'OK:west',
      ),
    ).toBe('UNAUTHENTICATED');
    const before = streamCount(istiods); // refused by the proxy itself: istiod, which knows west, is not asked
    expect(await outcome(token)).toBe('UNAUTHENTICATED');
    expect(streamCount(istiods)).toBe(before);
    expect(await outcome(await home.tokens.mint(ISTIOCTL_SA))).toBe(`OK:${ISTIOD_CLUSTER}`);
  });
});
