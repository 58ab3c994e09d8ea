import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SimulatedIstiodOptions } from '../../tools/sim/istiod-simulator.js';
import { buildDemoMesh } from '../../tools/sim/mesh-fixtures.js';
import { FakeKubeApi } from './fake-kube-api.js';
import { startMesh, type MeshHarness, type MeshOptions } from './mesh-harness.js';
import { createTokenIssuer, type TokenIssuer } from './test-tokens.js';

/** A cluster: a test Kubernetes API that issues ServiceAccount tokens and reviews them (with `R`). */
export interface TestCluster<R> {
  id: string;
  kube: FakeKubeApi;
  tokens: TokenIssuer;
  reviews: R;
  /** A kubeconfig file for its API server. */
  kubeconfig: string;
}

/** Starts cluster `id`, its kubeconfig written to `dir`; `serveReviews` answers its TokenReviews. */
export async function startTestCluster<R>(
  id: string,
  dir: string,
  serveReviews: (kube: FakeKubeApi, tokens: TokenIssuer) => R,
): Promise<TestCluster<R>> {
  const kube = new FakeKubeApi();
  await kube.start();
  const tokens = await createTokenIssuer({ issuer: `https://${id}.example/` });
  const reviews = serveReviews(kube, tokens);
  const kubeconfig = join(dir, `${id}.kubeconfig`);
  writeFileSync(kubeconfig, kube.kubeconfigYaml());
  return { id, kube, tokens, reviews, kubeconfig };
}

/** istiod's own cluster (its CLUSTER_ID): the one it reviews tokens against when no `clusterid` is sent. */
export const ISTIOD_CLUSTER = 'config';

/** An external istiod replica's view of the clusters: its own, plus the remote clusters it serves. */
export function multiclusterIstiod(own: TokenIssuer, remotes: Array<TestCluster<unknown>>): Partial<SimulatedIstiodOptions> {
  return {
    clusterId: ISTIOD_CLUSTER,
    verifyToken: (token) => own.verify(token),
    clusters: Object.fromEntries(remotes.map((cluster) => [cluster.id, (token: string) => cluster.tokens.verify(token)])),
  };
}

/** Clusters east and west behind the demo mesh's external istiods, and a proxy in AUTH_MODE=tokenreview with AUTH_CLUSTERS naming both. */
export interface EastWestMesh<R> {
  dir: string;
  east: TestCluster<R>;
  west: TestCluster<R>;
  /** The token issuer of istiod's own cluster. */
  istiodOwn: TokenIssuer;
  mesh: MeshHarness;
}

/** Starts an EastWestMesh, its kubeconfigs in a new temporary folder; `env` on top of the proxy's. */
export async function startEastWestMesh<R>(
  dirPrefix: string,
  serveReviews: (kube: FakeKubeApi, tokens: TokenIssuer) => R,
  options: { env?: Record<string, string>; logger?: MeshOptions['logger'] } = {},
): Promise<EastWestMesh<R>> {
  const dir = mkdtempSync(join(tmpdir(), dirPrefix));
  const [east, west] = await Promise.all([startTestCluster('east', dir, serveReviews), startTestCluster('west', dir, serveReviews)]);
  const istiodOwn = await createTokenIssuer();
  // The external istiod knows both clusters and reviews each token against the `clusterid` the proxy sends.
  const knowsBoth = multiclusterIstiod(istiodOwn, [east, west]);
  const mesh = await startMesh({
    istiods: buildDemoMesh().map((replica) => ({ ...replica, ...knowsBoth })),
    tokens: istiodOwn,
    ...(options.logger ? { logger: options.logger } : {}),
    env: {
      AUTH_MODE: 'tokenreview',
      AUTH_CLUSTERS: `east=${east.kubeconfig},west=${west.kubeconfig}`,
      ...options.env,
      JWT_JWKS_FILE: '',
      JWT_ISSUER: '',
    },
  });
  return { dir, east, west, istiodOwn, mesh };
}

export async function stopEastWestMesh(running: EastWestMesh<unknown> | undefined): Promise<void> {
  if (!running) return;
  await running.mesh.stop();
  await Promise.all([running.east.kube.stop(), running.west.kube.stop()]);
  rmSync(running.dir, { recursive: true, force: true });
}
