import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildKubeconfigYaml } from '../../../test/kit/fake-kube-config.js';
import { loadConfig } from '../../config/load-config.js';
import { KubeConfigLoader } from '../kubernetes/kube-config.loader.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { authClustersProvider } from './auth-clusters.provider.js';

const STATIC = { DISCOVERY: 'static', ISTIOD_ADDRESSES: 'a=10.0.0.1:15012', UPSTREAM_INSECURE: 'true' };

describe('AuthClusters provider', () => {
  Logger.overrideLogger(false);
  let dir: string;
  let east: string;
  let west: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'auth-clusters-'));
    east = join(dir, 'east');
    west = join(dir, 'west');
    writeFileSync(east, buildKubeconfigYaml('https://east.example:6443', 'e'));
    writeFileSync(west, buildKubeconfigYaml('https://west.example:6443', 'w'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const build = async (env: Record<string, string>, metrics = new MetricsService()) =>
    authClustersProvider.useFactory(loadConfig({ ...STATIC, ...env }), metrics, new KubeConfigLoader(), undefined);

  it('makes one cluster per AUTH_CLUSTERS entry, and counts them', async () => {
    const metrics = new MetricsService();
    const sut = await build({ AUTH_CLUSTERS: `east=${east},west=${west}` }, metrics);
    expect(sut.all().map(({ id, source, origin }) => ({ id, source, origin }))).toEqual([
      { id: 'east', source: 'static', origin: 'AUTH_CLUSTERS' },
      { id: 'west', source: 'static', origin: 'AUTH_CLUSTERS' },
    ]);
    const gauge = await metrics.authClusters.get();
    expect(gauge.values.find((value) => value.labels.source === 'static')?.value).toBe(2);
  });

  it('makes the one AUTH_KUBECONFIG cluster under AUTH_CLUSTER_ID, or without an ID', async () => {
    expect((await build({ AUTH_KUBECONFIG: west, AUTH_CLUSTER_ID: 'west' })).all().map((cluster) => cluster.id)).toEqual(['west']);
    expect((await build({ AUTH_KUBECONFIG: west })).all().map((cluster) => cluster.id)).toEqual(['']);
  });

  it('stops startup naming AUTH_CLUSTERS for a kubeconfig that cannot be loaded', async () => {
    const missing = join(dir, 'missing');
    await expect(build({ AUTH_CLUSTERS: `east=${east},west=${missing}` })).rejects.toThrow(
      `Invalid environment: AUTH_CLUSTERS=${missing} could not be loaded`,
    );
  });

  it('is empty, loading nothing, in the other modes', async () => {
    const sut = await build({ AUTH_MODE: 'none' });
    expect(sut.size).toBe(0);
  });
});
