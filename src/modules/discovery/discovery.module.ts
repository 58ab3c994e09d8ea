import type { KubeConfig } from '@kubernetes/client-node';
import { Module } from '@nestjs/common';
import { concatMap } from 'rxjs';
import { APP_CONFIG, AppConfig } from '../../config/app-config.js';
import { KUBE_CONFIG } from '../kubernetes/kube-config.token.js';
import { KubernetesModule } from '../kubernetes/kubernetes.module.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { DiscoveryMetrics } from './discovery.metrics.js';
import { DiscoveryService } from './discovery.service.js';
import { FileTrustRoots } from './file-trust-roots.js';
import { InstanceSource } from './instance-source.js';
import { IstiodInstance } from './istiod-instance.js';
import { StaticInstanceSource } from './static.source.js';
import { TrustRoots } from './trust-roots.js';

// The Kubernetes client is a large module (~75 MB resident): the sources that use it are imported
// only when the configuration needs a cluster, so static deployments do not carry it.

async function kubernetesSource(config: AppConfig, kubeConfig: KubeConfig, metrics: MetricsService): Promise<InstanceSource> {
  const { KubernetesInstanceSource, istiodSelector } = await import('./kubernetes.source.js');
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
  const { PortForwardTunnels } = await import('./port-forward.tunnels.js');
  const tunnels = new PortForwardTunnels(kubeConfig, config.istioNamespace);
  // Same stream, pod IPs replaced by local tunnel ends; aggregation cannot tell the difference.
  return new (class extends InstanceSource {
    readonly instances$ = source.instances$.pipe(concatMap((pods: IstiodInstance[]) => tunnels.sync(pods)));
    describe = () => `${source.describe()} via port-forward`;
    onModuleDestroy = () => tunnels.closeAll();
  })();
}

@Module({
  imports: [KubernetesModule],
  providers: [
    {
      provide: InstanceSource,
      inject: [APP_CONFIG, MetricsService, KUBE_CONFIG],
      useFactory: async (config: AppConfig, metrics: MetricsService, kubeConfig?: KubeConfig): Promise<InstanceSource> =>
        config.discovery === 'static' ? new StaticInstanceSource(config) : kubernetesSource(config, kubeConfig!, metrics),
    },
    {
      provide: TrustRoots,
      inject: [APP_CONFIG, KUBE_CONFIG],
      useFactory: async (config: AppConfig, kubeConfig?: KubeConfig): Promise<TrustRoots> => {
        if (config.upstreamCaFile || config.upstreamInsecure || config.upstreamPlaintext || !kubeConfig) {
          return new FileTrustRoots(config.upstreamCaFile);
        }
        const { ConfigMapTrustRoots } = await import('./ca-root.source.js');
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
  exports: [DiscoveryService, TrustRoots],
})
export class DiscoveryModule {}
