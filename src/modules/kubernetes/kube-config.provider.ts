import type { KubeConfig } from '@kubernetes/client-node';
import { FactoryProvider } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../../config/app-config.js';
import { KubeConfigLoader } from './kube-config.loader.js';
import { KUBE_CONFIG } from './kube-config.token.js';

/** Whether the proxy reads the discovery cluster at all: pods to discover, or istiod's CA root ConfigMap. */
export function needsCluster(config: AppConfig): boolean {
  const rootFromCluster = !config.upstreamCaFile && !config.upstreamInsecure && !config.upstreamPlaintext;
  return config.discovery === 'kubernetes' || rootFromCluster;
}

/** KUBE_CONFIG: loaded once at start when needed, so a bad kubeconfig fails startup naming the variable. */
export const kubeConfigProvider: FactoryProvider<Promise<KubeConfig | undefined>> = {
  provide: KUBE_CONFIG,
  inject: [APP_CONFIG, KubeConfigLoader],
  useFactory: async (config: AppConfig, loader: KubeConfigLoader): Promise<KubeConfig | undefined> =>
    needsCluster(config) ? loader.load({ path: config.kubeconfigPath, context: config.kubeContext }) : undefined,
};
