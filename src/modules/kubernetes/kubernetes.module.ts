import { Module } from '@nestjs/common';
import { KubeConfigLoader } from './kube-config.loader.js';
import { kubeConfigProvider } from './kube-config.provider.js';
import { KUBE_CONFIG } from './kube-config.token.js';

/**
 * The one way into Kubernetes for discovery and auth alike: the discovery cluster's KubeConfig
 * (KUBE_CONFIG) and a loader for any other kubeconfig. The watch helpers beside it (ResilientWatch,
 * Backoff) are plain classes imported by the sources that need them, on demand.
 */
@Module({
  providers: [KubeConfigLoader, kubeConfigProvider],
  exports: [KubeConfigLoader, KUBE_CONFIG],
})
export class KubernetesModule {}
