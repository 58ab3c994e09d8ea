import type { KubeConfig } from '@kubernetes/client-node';
import { FactoryProvider, Logger } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../../config/app-config.js';
import { KubeConfigLoader } from '../kubernetes/kube-config.loader.js';
import { KUBE_CONFIG } from '../kubernetes/kube-config.token.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { AuthClusters } from './auth-clusters.js';

/**
 * The clusters AUTH_MODE=tokenreview accepts tokens of: AUTH_CLUSTERS, else the one cluster of
 * AUTH_KUBECONFIG (or the discovery cluster) under AUTH_CLUSTER_ID; plus, with
 * AUTH_CLUSTERS_FROM_REMOTE_SECRETS, istiod's remote secrets, watched. Empty in the other modes.
 * A kubeconfig that cannot be loaded fails startup naming its variable.
 */
async function createAuthClusters(
  config: AppConfig,
  metrics: MetricsService,
  kubeConfigs: KubeConfigLoader,
  discoveryKubeConfig?: KubeConfig,
): Promise<AuthClusters> {
  const clusters = new AuthClusters({
    maxClusters: config.authMaxClusters,
    onChange: (counts) => Object.entries(counts).forEach(([source, count]) => metrics.authClusters.set({ source }, count)),
  });
  if (config.authMode !== 'tokenreview') return clusters;
  // Imported on demand: the Kubernetes client is large and unused by the other modes.
  const { ClusterTokenReview } = await import('./cluster-token-review.js');
  const reviewerFor = (clusterId: string, kubeConfig: KubeConfig) =>
    new ClusterTokenReview({
      clusterId,
      kubeConfig,
      audiences: config.jwtAudiences,
      timeoutMs: config.tokenReviewTimeoutMs,
      onReview: (outcome) => metrics.tokenReviews.inc({ outcome }),
    });

  if (config.authClusters.length > 0) {
    for (const { clusterId, kubeconfigPath } of config.authClusters) {
      const kubeConfig = await kubeConfigs.load({ path: kubeconfigPath, variable: 'AUTH_CLUSTERS' });
      clusters.set({ id: clusterId, source: 'static', origin: 'AUTH_CLUSTERS', reviewer: reviewerFor(clusterId, kubeConfig) });
    }
  } else {
    // The cluster that issued the callers' tokens: AUTH_KUBECONFIG (e.g. the remote cluster the
    // external istiod also watches), else the discovery cluster.
    const kubeConfig = config.authKubeconfig
      ? await kubeConfigs.load({ path: config.authKubeconfig, variable: 'AUTH_KUBECONFIG' })
      : (discoveryKubeConfig ?? (await kubeConfigs.load({ path: config.kubeconfigPath, context: config.kubeContext })));
    const id = config.authClusterId ?? '';
    const origin = config.authKubeconfig ? 'AUTH_KUBECONFIG' : 'the discovery cluster';
    clusters.set({ id, source: 'static', origin, reviewer: reviewerFor(id, kubeConfig) });
  }

  if (config.authClustersFromRemoteSecrets && discoveryKubeConfig) {
    const { RemoteSecretClusters } = await import('./remote-secret.clusters.js');
    const remote = new RemoteSecretClusters({
      kubeConfig: discoveryKubeConfig,
      namespace: config.istioNamespace,
      clusters,
      parseKubeConfig: (yaml, description) => kubeConfigs.fromYaml(yaml, description),
      reviewerFor,
      backoff: { initialMs: config.watchBackoffInitialMs, maxMs: config.watchBackoffMaxMs },
      onWatchRestart: () => metrics.watchRestarts.inc(),
    });
    await remote.start();
    clusters.addStopper(() => remote.stop());
  }
  const ids = clusters.all().map((cluster) => cluster.id || '(no ID: clusterid not asserted)');
  new Logger('Auth').log(`tokens are reviewed against ${clusters.size} cluster(s): ${ids.join(', ')}`);
  return clusters;
}

export const authClustersProvider: FactoryProvider<Promise<AuthClusters>> = {
  provide: AuthClusters,
  inject: [APP_CONFIG, MetricsService, KubeConfigLoader, KUBE_CONFIG],
  useFactory: createAuthClusters,
};
