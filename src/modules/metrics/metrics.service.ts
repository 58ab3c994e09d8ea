import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const PREFIX = 'istioctl_proxy_';
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * Every metric the proxy exports on /metrics. One registry per app instance (not prom-client's
 * global one), so several proxies can run in one process (tests) without clashing.
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  readonly requests = new Counter({
    name: `${PREFIX}requests_total`,
    help: 'istioctl requests answered, by type URL and gRPC result code',
    labelNames: ['type_url', 'code'] as const,
    registers: [this.registry],
  });
  readonly fanoutDuration = new Histogram({
    name: `${PREFIX}fanout_duration_seconds`,
    help: 'Time from request to merged answer',
    labelNames: ['type_url'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly istiodDuration = new Histogram({
    name: `${PREFIX}istiod_request_duration_seconds`,
    help: 'Time each istiod took to answer (or fail)',
    labelNames: ['instance', 'outcome'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly istiodErrors = new Counter({
    name: `${PREFIX}istiod_errors_total`,
    help: 'Per-istiod failures by reason (timeout, unavailable, unauthenticated, permission_denied...)',
    labelNames: ['instance', 'reason'] as const,
    registers: [this.registry],
  });
  readonly partialAnswers = new Counter({
    name: `${PREFIX}partial_answers_total`,
    help: 'Answers merged without every istiod (PARTIAL_RESULTS=allow)',
    labelNames: ['type_url'] as const,
    registers: [this.registry],
  });
  readonly instances = new Gauge({
    name: `${PREFIX}istiod_instances`,
    help: 'istiod instances currently known, by state (discovered pods, ready instances)',
    labelNames: ['state'] as const,
    registers: [this.registry],
  });
  readonly watchRestarts = new Counter({
    name: `${PREFIX}watch_restarts_total`,
    help: 'Kubernetes watch restarts after errors',
    registers: [this.registry],
  });
  readonly tokenVerifications = new Counter({
    name: `${PREFIX}token_verifications_total`,
    help: 'Caller token checks by result (ok, unauthenticated, permission_denied)',
    labelNames: ['mode', 'result'] as const,
    registers: [this.registry],
  });
  readonly tokenReviewCacheHits = new Counter({
    name: `${PREFIX}tokenreview_cache_hits_total`,
    help: 'Token verifications answered from the TokenReview cache (or a review already in flight)',
    registers: [this.registry],
  });
  readonly tokenReviews = new Counter({
    name: `${PREFIX}tokenreviews_total`,
    help: 'TokenReview calls made, by outcome',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly authClusters = new Gauge({
    name: `${PREFIX}auth_clusters`,
    help: 'Clusters whose ServiceAccount tokens are accepted (AUTH_MODE=tokenreview), by source (static, remote-secret)',
    labelNames: ['source'] as const,
    registers: [this.registry],
  });
  readonly openStreams = new Gauge({
    name: `${PREFIX}open_streams`,
    help: 'istioctl streams currently open',
    registers: [this.registry],
  });
  readonly coalesced = new Counter({
    name: `${PREFIX}coalesced_requests_total`,
    help: 'Requests answered by joining an identical in-flight (or cached) fan-out',
    labelNames: ['type_url'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: PREFIX });
  }
}
