import type { KubeConfig } from '@kubernetes/client-node';
import { Logger } from '@nestjs/common';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildKubeconfigYaml } from '../../../test/kit/fake-kube-config.js';
import { FakeKubeApi } from '../../../test/kit/fake-kube-api.js';
import { captureLogs } from '../../../test/kit/log-capture.js';
import { waitFor } from '../../../test/kit/wait-for.js';
import { KubeConfigLoader } from '../kubernetes/kube-config.loader.js';
import { AuthClusters } from './auth-clusters.js';
import { CallerIdentity } from './caller-identity.js';
import { TokenReviewer } from './cluster-token-review.js';
import { MULTICLUSTER_SECRET_LABEL, RemoteSecretClusters } from './remote-secret.clusters.js';

const NS = 'istio-system';
const LABELS = { 'istio/multiCluster': 'true' };

/** What `istioctl create-remote-secret` writes: the cluster ID as key, a kubeconfig as value. */
const remoteKubeconfig = (server: string) => Buffer.from(buildKubeconfigYaml(server, 'remote-reader-token')).toString('base64');

/** A reviewer that only says which API server it would ask. */
class ServerOf implements TokenReviewer {
  constructor(readonly server: string | undefined) {}
  review(): Promise<CallerIdentity> {
    return Promise.reject(new Error('not used'));
  }
}

describe('RemoteSecretClusters', () => {
  const logs = captureLogs('info');
  Logger.overrideLogger(logs.logger);
  let kube: FakeKubeApi;
  let clusters: AuthClusters;
  let sut: RemoteSecretClusters | undefined;

  beforeAll(async () => {
    kube = new FakeKubeApi();
    await kube.start();
  });
  afterAll(async () => kube?.stop());
  beforeEach(() => {
    clusters = new AuthClusters({ maxClusters: 3 });
    clusters.set({ id: 'home', source: 'static', origin: 'AUTH_KUBECONFIG', reviewer: new ServerOf('https://home') });
  });
  afterEach(() => {
    sut?.stop();
    for (const name of ['remote-a', 'remote-b', 'remote-c', 'unlabelled']) kube.deleteSecret(NS, name);
  });

  const start = async () => {
    sut = new RemoteSecretClusters({
      kubeConfig: kube.kubeConfig(),
      namespace: NS,
      clusters,
      parseKubeConfig: (yaml, description) => new KubeConfigLoader().fromYaml(yaml, description),
      reviewerFor: (_id, kubeConfig: KubeConfig) => new ServerOf(kubeConfig.getCurrentCluster()?.server),
      backoff: { initialMs: 20, maxMs: 100 },
    });
    await sut.start();
    return sut;
  };
  const servers = () => Object.fromEntries(clusters.all().map((cluster) => [cluster.id, (cluster.reviewer as ServerOf).server]));

  it('learns the clusters of the labelled Secrets before start() resolves, one per data key', async () => {
    kube.upsertSecret(
      NS,
      'remote-a',
      { west: remoteKubeconfig('https://west:6443'), north: remoteKubeconfig('https://north:6443') },
      LABELS,
    );
    kube.upsertSecret(NS, 'unlabelled', { south: remoteKubeconfig('https://south:6443') });
    await start();
    expect(servers()).toEqual({ home: 'https://home', north: 'https://north:6443', west: 'https://west:6443' });
    expect(clusters.get('west')).toMatchObject({ source: 'remote-secret', origin: `Secret ${NS}/remote-a` });
    const list = kube.requests.find((request) => request.resource === 'secrets' && !request.watch);
    expect(list?.query.labelSelector).toBe(MULTICLUSTER_SECRET_LABEL);
  });

  it('follows added, changed and deleted Secrets while running', async () => {
    await start();
    kube.upsertSecret(NS, 'remote-a', { west: remoteKubeconfig('https://west:6443') }, LABELS);
    expect(await waitFor(() => servers().west === 'https://west:6443')).toBe(true);
    const before = clusters.get('west')!;

    kube.upsertSecret(NS, 'remote-a', { west: remoteKubeconfig('https://west-2:6443') }, LABELS);
    expect(await waitFor(() => servers().west === 'https://west-2:6443')).toBe(true);
    expect(clusters.isCurrent(before)).toBe(false);

    kube.deleteSecret(NS, 'remote-a');
    expect(await waitFor(() => clusters.get('west') === undefined)).toBe(true);
    expect(servers()).toEqual({ home: 'https://home' });
    expect(
      logs.withMessage('cluster west removed (was from Secret istio-system/remote-a): its tokens are no longer accepted'),
    ).toHaveLength(1);
  });

  it('keeps a static cluster over a Secret naming the same ID', async () => {
    kube.upsertSecret(NS, 'remote-a', { home: remoteKubeconfig('https://elsewhere:6443') }, LABELS);
    await start();
    expect(servers()).toEqual({ home: 'https://home' });
    expect(logs.withMessage('remote secret clusters ignored: home (already AUTH_KUBECONFIG)').length).toBeGreaterThan(0);
  });

  it('ignores clusters past AUTH_MAX_CLUSTERS, logging them, and takes them once there is room', async () => {
    kube.upsertSecret(NS, 'remote-a', { a1: remoteKubeconfig('https://a1'), a2: remoteKubeconfig('https://a2') }, LABELS);
    kube.upsertSecret(NS, 'remote-b', { b1: remoteKubeconfig('https://b1') }, LABELS);
    await start();
    expect(Object.keys(servers())).toEqual(['home', 'a1', 'a2']);
    expect(logs.withMessage('remote secret clusters ignored: b1 (AUTH_MAX_CLUSTERS=3 reached)').length).toBeGreaterThan(0);

    kube.upsertSecret(NS, 'remote-c', { c1: remoteKubeconfig('https://c1'), c2: remoteKubeconfig('https://c2') }, LABELS);
    expect(
      await waitFor(
        () =>
          logs.withMessage(
            'remote secret clusters ignored: b1 (AUTH_MAX_CLUSTERS=3 reached), c1 (AUTH_MAX_CLUSTERS=3 reached), c2 (AUTH_MAX_CLUSTERS=3 reached)',
          ).length > 0,
      ),
    ).toBe(true);
    expect(clusters.size).toBe(3);

    kube.deleteSecret(NS, 'remote-a');
    expect(await waitFor(() => Object.keys(servers()).join() === 'home,b1,c1')).toBe(true);
  });

  it('skips a value that is not a kubeconfig, and drops a cluster whose value turns bad', async () => {
    kube.upsertSecret(NS, 'remote-a', { west: remoteKubeconfig('https://west:6443'), bad: Buffer.from('{').toString('base64') }, LABELS);
    await start();
    expect(servers()).toEqual({ home: 'https://home', west: 'https://west:6443' });
    expect(
      logs.lines().some((line) => String(line.msg).startsWith(`cluster bad ignored: Secret ${NS}/remote-a key bad is not a kubeconfig`)),
    ).toBe(true);

    kube.upsertSecret(NS, 'remote-a', { west: Buffer.from('clusters: []').toString('base64') }, LABELS);
    expect(await waitFor(() => clusters.get('west') === undefined)).toBe(true);
  });

  it('stops startup naming the variable when the Secrets may not be listed', async () => {
    kube.failNextLists(1, 403);
    await expect(start()).rejects.toThrow(
      'Invalid environment: AUTH_CLUSTERS_FROM_REMOTE_SECRETS=true but Secrets in istio-system cannot be listed (forbidden)',
    );
  });

  it('keeps serving the static clusters while the API is unavailable, and learns once it is back', async () => {
    kube.upsertSecret(NS, 'remote-a', { west: remoteKubeconfig('https://west:6443') }, LABELS);
    kube.failNextLists(2, 500);
    await start();
    expect(servers()).toEqual({ home: 'https://home' });
    expect(await waitFor(() => servers().west === 'https://west:6443')).toBe(true);
  });
});
