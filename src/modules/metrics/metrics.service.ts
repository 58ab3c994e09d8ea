import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { TypeUrlLabels } from './type-url-labels.js';

const PREFIX = 'istioctl_proxy_';
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * Every metric the proxy exports on /metrics. One registry per app instance (not prom-client's
 * global one), so several proxies can run in one process (tests) without clashing. Every label
 * has a bounded set of values: `type_url` through `typeUrls`, `instance` only for pods still in
 * discovery (the aggregation module removes a departed pod's series).
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();
  /** Maps a caller's type URL to its bounded label value; use it for every `type_url` label. */
  readonly typeUrls = new TypeUrlLabels();

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
    help: 'Per-istiod failures by reason (timeout, unavailable, resource_exhausted...); refusals of the caller are not failures',
    labelNames: ['instance', 'reason'] as const,
    registers: [this.registry],
  });
  readonly callerDenied = new Counter({
    name: `${PREFIX}istiod_caller_denied_total`,
    help: "istiod answers refusing the caller's token or rights, by reason (permission_denied, unauthenticated)",
    labelNames: ['reason'] as const,
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
  readonly responseCacheBytes = new Gauge({
    name: `${PREFIX}response_cache_bytes`,
    help: 'Bytes of answers held by the response cache (RESPONSE_CACHE_MS, bounded by RESPONSE_CACHE_MAX_BYTES)',
    registers: [this.registry],
  });
  readonly answerBudgetBytes = new Gauge({
    name: `${PREFIX}answer_budget_reserved_bytes`,
    help: 'Bytes of istiod answers reserved by running fan-outs (bounded by MAX_INFLIGHT_ANSWER_BYTES)',
    registers: [this.registry],
  });
  readonly answerBudgetWaiting = new Gauge({
    name: `${PREFIX}answer_budget_waiting`,
    help: 'Fan-outs waiting for answer memory (bounded by ANSWER_BUDGET_MAX_WAITING)',
    registers: [this.registry],
  });
  readonly answerBudgetQueued = new Counter({
    name: `${PREFIX}answer_budget_queued_total`,
    help: 'Fan-outs that had to wait for answer memory before starting',
    registers: [this.registry],
  });
  readonly answerBudgetRejected = new Counter({
    name: `${PREFIX}answer_budget_rejected_total`,
    help: 'Requests refused with RESOURCE_EXHAUSTED for want of answer memory, by reason (timeout, queue_full)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: PREFIX });
  }
}
