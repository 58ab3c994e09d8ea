import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import { startProxy, type RunningProxy } from '../../src/bootstrap.js';
import { loadConfig } from '../../src/config/load-config.js';
import type { FakeKubeApi } from './fake-kube-api.js';
import { freePort } from './free-port.js';

export interface KubeProxy {
  proxy: RunningProxy;
  /** host:port of the proxy's (plaintext) ADS port. */
  address: string;
}

/**
 * The real proxy with DISCOVERY=kubernetes against the test Kubernetes API: a kubeconfig file in
 * `dir`, fast watch backoff for tests, plaintext ADS on loopback; `env` adds or overrides.
 */
export async function startKubeProxy(kube: FakeKubeApi, dir: string, env: Record<string, string>): Promise<KubeProxy> {
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, kube.kubeconfigYaml());
  const grpcPort = await freePort();
  Logger.overrideLogger(false);
  const proxy = await startProxy(
    loadConfig({
      GRPC_HOST: '127.0.0.1',
      GRPC_PORT: String(grpcPort),
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: String(await freePort()),
      PLAINTEXT: 'true',
      KUBECONFIG: kubeconfig,
      POD_NAMESPACE: 'istio-system',
      WATCH_BACKOFF_INITIAL_MS: '50',
      WATCH_BACKOFF_MAX_MS: '400',
      FANOUT_TIMEOUT_MS: '3000',
      ...env,
    }),
    false,
  );
  return { proxy, address: `127.0.0.1:${grpcPort}` };
}
