import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildKubeconfigYaml } from '../../../test/kit/fake-kube-config.js';
import { KubeConfigLoader } from './kube-config.loader.js';

describe('KubeConfigLoader', () => {
  const sut = new KubeConfigLoader();
  let dir: string;
  let kubeconfig: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'kubeconfig-'));
    kubeconfig = join(dir, 'config');
    writeFileSync(kubeconfig, buildKubeconfigYaml('https://remote.example:6443', 'token'));
  });

  it('loads the kubeconfig at a path, on its current context', async () => {
    const kubeConfig = await sut.load({ path: kubeconfig });
    expect(kubeConfig.getCurrentCluster()?.server).toBe('https://remote.example:6443');
  });

  it('switches to a named context of the file', async () => {
    const kubeConfig = await sut.load({ path: kubeconfig, context: 'fake-kube-api' });
    expect(kubeConfig.getCurrentContext()).toBe('fake-kube-api');
  });

  it('fails naming KUBE_CONTEXT for a context the file does not have', async () => {
    await expect(sut.load({ path: kubeconfig, context: 'prod' })).rejects.toThrow(
      'Invalid environment: KUBE_CONTEXT=prod is not a context of the loaded kubeconfig',
    );
  });

  it('fails naming the variable the path came from', async () => {
    const missing = join(dir, 'missing');
    await expect(sut.load({ path: missing, variable: 'AUTH_KUBECONFIG' })).rejects.toThrow(
      `Invalid environment: AUTH_KUBECONFIG=${missing} could not be loaded`,
    );
    await expect(sut.load({ path: missing })).rejects.toThrow(`Invalid environment: KUBECONFIG=${missing} could not be loaded`);
  });

  it('reads a kubeconfig given as text (a remote secret value), failing with its description', async () => {
    const kubeConfig = await sut.fromYaml(buildKubeconfigYaml('https://west.example:6443', 't'), 'Secret istio-system/west key west');
    expect(kubeConfig.getCurrentCluster()?.server).toBe('https://west.example:6443');
    await expect(sut.fromYaml('{', 'Secret istio-system/west key west')).rejects.toThrow(
      'Secret istio-system/west key west is not a kubeconfig',
    );
    await expect(sut.fromYaml('clusters: []', 'Secret istio-system/west key west')).rejects.toThrow(
      'Secret istio-system/west key west names no cluster on its current context',
    );
  });

  it('fails for a kubeconfig that names no cluster', async () => {
    const empty = join(dir, 'empty');
    writeFileSync(empty, 'apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n');
    await expect(sut.load({ path: empty })).rejects.toThrow('KUBECONFIG names no cluster');
    await expect(sut.load({ path: empty, variable: 'AUTH_KUBECONFIG' })).rejects.toThrow('AUTH_KUBECONFIG names no cluster');
  });
});
