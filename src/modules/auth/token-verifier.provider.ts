import { FactoryProvider, Logger } from '@nestjs/common';
import { Clock } from '../../common/clock.js';
import { APP_CONFIG, AppConfig } from '../../config/app-config.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { Tracing } from '../tracing/tracing.js';
import { AuthClusters } from './auth-clusters.js';
import { JwksVerifier } from './jwks.verifier.js';
import { NoneVerifier } from './none.verifier.js';
import { TokenVerifier } from './token-verifier.js';

async function createVerifier(
  config: AppConfig,
  metrics: MetricsService,
  clock: Clock,
  clusters: AuthClusters,
  tracing: Tracing,
): Promise<TokenVerifier> {
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
        clock,
        cacheTtlMs: config.jwtCacheMs,
        maxCacheEntries: config.tokenCacheSize,
        // tokenreview_cache_hits_total is TokenReview's own; the span still says the answer was cached.
        onCacheHit: () => tracing.markVerificationCached(),
      });
    case 'tokenreview': {
      // Imported on demand: the Kubernetes client is large and unused by the other modes.
      const { TokenReviewVerifier } = await import('./tokenreview.verifier.js');
      // The clusters that issue callers' tokens (AUTH_CLUSTERS, AUTH_KUBECONFIG, remote secrets):
      // see auth-clusters.provider.ts. Each review is counted there, per cluster asked.
      return new TokenReviewVerifier({
        clusters,
        audiences: config.jwtAudiences,
        maxCacheEntries: config.tokenCacheSize,
        rejectCacheMs: config.tokenRejectCacheMs,
        maxRejectCacheEntries: config.tokenRejectCacheSize,
        clock,
        onCacheHit: () => {
          metrics.tokenReviewCacheHits.inc();
          tracing.markVerificationCached();
        },
      });
    }
  }
}

/** TokenVerifier for AUTH_MODE, built once at start (a bad kubeconfig or JWKS file fails startup). */
export const tokenVerifierProvider: FactoryProvider<Promise<TokenVerifier>> = {
  provide: TokenVerifier,
  inject: [APP_CONFIG, MetricsService, Clock, AuthClusters, Tracing],
  useFactory: createVerifier,
};
