import { KubeConfig } from '@kubernetes/client-node';
import { Module } from '@nestjs/common';
import { concatMap } from 'rxjs';
import { APP_CONFIG, AppConfig } from '../../config/app-config.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { DiscoveryMetrics } from './discovery.metrics.js';
import { ConfigMapTrustRoots, FileTrustRoots } from './ca-root.source.js';
import { DiscoveryService } from './discovery.service.js';
import { InstanceSource } from './instance-source.js';
import { IstiodInstance } from './istiod-instance.js';
import { loadKubeConfig } from './kube/kube-config.factory.js';
import { KubernetesInstanceSource, istiodSelector } from './kubernetes.source.js';
import { PortForwardTunnels } from './port-forward.tunnels.js';
import { StaticInstanceSource } from './static.source.js';
import { TrustRoots } from './trust-roots.js';

export const KUBE_CONFIG = Symbol('KUBE_CONFIG');

function needsCluster(config: AppConfig): boolean {
  const rootFromCluster = !config.upstreamCaFile && !config.upstreamInsecure && !config.upstreamPlaintext;
  return config.discovery === 'kubernetes' || rootFromCluster;
}

function kubernetesSource(config: AppConfig, kubeConfig: KubeConfig, metrics: MetricsService): InstanceSource {
  const backoff = { initialMs: config.watchBackoffInitialMs, maxMs: config.watchBackoffMaxMs };
  const source = new KubernetesInstanceSource({
    kubeConfig,
    namespace: config.istioNamespace,
    labelSelector: istiodSelector(config.istiodSelector, config.istioRevision),
    istiodPort: config.istiodPort,
    backoff,
    onWatchRestart: () => metrics.watchRestarts.inc(),
    onPodsListed: (count) => metrics.instances.set({ state: 'discovered' }, count),
  });
  if (config.upstreamMode !== 'port-forward') return source;
  const tunnels = new PortForwardTunnels(kubeConfig, config.istioNamespace);
  // Same stream, pod IPs replaced by local tunnel ends; aggregation cannot tell the difference.
  return new (class extends InstanceSource {
    readonly instances$ = source.instances$.pipe(concatMap((pods: IstiodInstance[]) => tunnels.sync(pods)));
    describe = () => `${source.describe()} via port-forward`;
    onModuleDestroy = () => tunnels.closeAll();
  })();
}

@Module({
  providers: [
    {
      provide: KUBE_CONFIG,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig): KubeConfig | undefined => (needsCluster(config) ? loadKubeConfig(config.kubeContext, config.kubeconfigPath) : undefined),
    },
    {
      provide: InstanceSource,
      inject: [APP_CONFIG, MetricsService, KUBE_CONFIG],
      useFactory: (config: AppConfig, metrics: MetricsService, kubeConfig?: KubeConfig): InstanceSource =>
        config.discovery === 'static' ? new StaticInstanceSource(config) : kubernetesSource(config, kubeConfig!, metrics),
    },
    {
      provide: TrustRoots,
      inject: [APP_CONFIG, KUBE_CONFIG],
      useFactory: async (config: AppConfig, kubeConfig?: KubeConfig): Promise<TrustRoots> => {
        if (config.upstreamCaFile || config.upstreamInsecure || config.upstreamPlaintext || !kubeConfig) {
          return new FileTrustRoots(config.upstreamCaFile);
        }
        const roots = new ConfigMapTrustRoots(kubeConfig, config.istioNamespace, {
          initialMs: config.watchBackoffInitialMs,
          maxMs: config.watchBackoffMaxMs,
        });
        await roots.start();
        return roots;
      },
    },
    { provide: DiscoveryService, inject: [InstanceSource], useFactory: (source: InstanceSource) => new DiscoveryService(source) },
    DiscoveryMetrics,
  ],
  exports: [DiscoveryService, TrustRoots, KUBE_CONFIG],
})
export class DiscoveryModule {}
