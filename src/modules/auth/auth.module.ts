import type { KubeConfig } from '@kubernetes/client-node';
import { Logger, Module } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../../config/app-config.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { DiscoveryModule, KUBE_CONFIG } from '../discovery/discovery.module.js';
import { CallerIdentities } from './caller-identities.js';
import { JwksVerifier } from './jwks.verifier.js';
import { JwtGuard } from './jwt.guard.js';
import { NoneVerifier } from './none.verifier.js';
import { TokenVerifier } from './token-verifier.js';

async function createVerifier(config: AppConfig, metrics: MetricsService, discoveryKubeConfig?: KubeConfig): Promise<TokenVerifier> {
  switch (config.authMode) {
    case 'none':
      new Logger('Auth').warn('AUTH_MODE=none: callers are NOT authenticated by the proxy (istiod still checks the forwarded token)');
      return new NoneVerifier();
    case 'jwks':
      return new JwksVerifier({
        audiences: config.jwtAudiences,
        issuer: config.jwtIssuer,
        jwksUri: config.jwtJwksUri,
        jwksFile: config.jwtJwksFile,
      });
    case 'tokenreview': {
      // Imported on demand: the Kubernetes client is large and unused by the other modes.
      const { loadKubeConfig } = await import('../discovery/kube/kube-config.factory.js');
      const { TokenReviewVerifier } = await import('./tokenreview.verifier.js');
      // The cluster that issued the caller's token: AUTH_KUBECONFIG (e.g. the remote cluster the
      // external istiod also watches), else the discovery cluster.
      const kubeConfig = config.authKubeconfig
        ? loadKubeConfig(undefined, config.authKubeconfig, 'AUTH_KUBECONFIG')
        : (discoveryKubeConfig ?? loadKubeConfig(config.kubeContext, config.kubeconfigPath));
      return new TokenReviewVerifier({
        kubeConfig,
        audiences: config.jwtAudiences,
        maxCacheEntries: config.tokenCacheSize,
        onReview: (outcome) => metrics.tokenReviews.inc({ outcome }),
        onCacheHit: () => metrics.tokenReviewCacheHits.inc(),
      });
    }
  }
}

@Module({
  imports: [DiscoveryModule],
  providers: [
    CallerIdentities,
    JwtGuard,
    { provide: TokenVerifier, inject: [APP_CONFIG, MetricsService, KUBE_CONFIG], useFactory: createVerifier },
  ],
  exports: [CallerIdentities, JwtGuard, TokenVerifier],
})
export class AuthModule {}
