import { KubeConfig } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/load-config.js';
import { KubeConfigLoader, type KubeConfigSource } from './kube-config.loader.js';
import { kubeConfigProvider, needsCluster } from './kube-config.provider.js';

/** The file system edge, replaced: records what was asked for. */
class RecordingLoader extends KubeConfigLoader {
  readonly asked: KubeConfigSource[] = [];
  override load(source: KubeConfigSource = {}): Promise<KubeConfig> {
    this.asked.push(source);
    return Promise.resolve(new KubeConfig());
  }
}

const STATIC = { DISCOVERY: 'static', ISTIOD_ADDRESSES: 'a=10.0.0.1:15012' };

describe('KUBE_CONFIG', () => {
  it.each([
    [{ DISCOVERY: 'kubernetes', UPSTREAM_CA_FILE: '/ca.pem' }, true],
    [{ DISCOVERY: 'kubernetes' }, true],
    [{ ...STATIC, UPSTREAM_CA_FILE: '/ca.pem' }, false],
    [{ ...STATIC, UPSTREAM_INSECURE: 'true' }, false],
    [{ ...STATIC, UPSTREAM_PLAINTEXT: 'true' }, false],
  ])('%o needs a cluster: %s', (env, expected) => {
    expect(needsCluster(loadConfig(env))).toBe(expected);
  });

  it('loads KUBECONFIG / KUBE_CONTEXT when the configuration needs a cluster', async () => {
    const loader = new RecordingLoader();
    const config = loadConfig({ DISCOVERY: 'kubernetes', KUBECONFIG: '/home/me/.kube/config', KUBE_CONTEXT: 'prod' });
    await expect(kubeConfigProvider.useFactory(config, loader)).resolves.toBeDefined();
    expect(loader.asked).toEqual([{ path: '/home/me/.kube/config', context: 'prod' }]);
  });

  it('is undefined, loading nothing, for a static deployment', async () => {
    const loader = new RecordingLoader();
    await expect(kubeConfigProvider.useFactory(loadConfig({ ...STATIC, UPSTREAM_INSECURE: 'true' }), loader)).resolves.toBeUndefined();
    expect(loader.asked).toEqual([]);
  });
});
