import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { TypeUrlLabels } from './type-url-labels.js';

const PREFIX = 'istioctl_proxy_';
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * Declares metrics in one registry: a metric is its name (without PREFIX), its help and its labels
 * (none: a single series); a histogram also its buckets.
 */
function metricsIn(registry: Registry) {
  const base = <L extends string>(name: string, help: string, labelNames: readonly L[]) => ({
    name: `${PREFIX}${name}`,
    help,
    labelNames,
    registers: [registry],
  });
  return {
    counter: <L extends string = string>(name: string, help: string, labels: readonly L[] = []) => new Counter<L>(base(name, help, labels)),
    gauge: <L extends string = string>(name: string, help: string, labels: readonly L[] = []) => new Gauge<L>(base(name, help, labels)),
    histogram: <L extends string>(name: string, help: string, labels: readonly L[], buckets: number[]) =>
      new Histogram<L>({ ...base(name, help, labels), buckets }),
  };
}

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
  private readonly declare = metricsIn(this.registry);

  // Requests and fan-outs.
  readonly requests = this.declare.counter('requests_total', 'istioctl requests answered, by type URL and gRPC result code', [
    'type_url',
    'code',
  ]);
  readonly fanoutDuration = this.declare.histogram(
    'fanout_duration_seconds',
    'Time from request to merged answer',
    ['type_url'],
    LATENCY_BUCKETS,
  );
  readonly istiodDuration = this.declare.histogram(
    'istiod_request_duration_seconds',
    'Time each istiod took to answer (or fail)',
    ['instance', 'outcome'],
    LATENCY_BUCKETS,
  );
  readonly istiodErrors = this.declare.counter(
    'istiod_errors_total',
    'Per-istiod failures by reason (timeout, unavailable, resource_exhausted...); refusals of the caller are not failures',
    ['instance', 'reason'],
  );
  readonly callerDenied = this.declare.counter(
    'istiod_caller_denied_total',
    "istiod answers refusing the caller's token or rights, by reason (permission_denied, unauthenticated)",
    ['reason'],
  );
  readonly partialAnswers = this.declare.counter('partial_answers_total', 'Answers merged without every istiod (PARTIAL_RESULTS=allow)', [
    'type_url',
  ]);

  // Discovery.
  readonly instances = this.declare.gauge(
    'istiod_instances',
    'istiod instances currently known, by state (discovered pods, ready instances)',
    ['state'],
  );
  readonly watchRestarts = this.declare.counter('watch_restarts_total', 'Kubernetes watch restarts after errors');

  // Callers' tokens.
  readonly tokenVerifications = this.declare.counter(
    'token_verifications_total',
    'Caller token checks by result (ok, unauthenticated, permission_denied, unavailable)',
    ['mode', 'result'],
  );
  readonly tokenReviewCacheHits = this.declare.counter(
    'tokenreview_cache_hits_total',
    'Token verifications answered from the TokenReview cache (or a review already in flight)',
  );
  readonly tokenReviews = this.declare.counter('tokenreviews_total', 'TokenReview calls made, by outcome', ['outcome']);
  readonly authClusters = this.declare.gauge(
    'auth_clusters',
    'Clusters whose ServiceAccount tokens are accepted (AUTH_MODE=tokenreview), by source (static, remote-secret)',
    ['source'],
  );

  // Streams, coalescing and the memory held for answers.
  readonly openStreams = this.declare.gauge('open_streams', 'istioctl streams currently open');
  readonly coalesced = this.declare.counter(
    'coalesced_requests_total',
    'Requests answered by joining an identical in-flight (or cached) fan-out',
    ['type_url'],
  );
  readonly responseCacheBytes = this.declare.gauge(
    'response_cache_bytes',
    'Bytes of answers held by the response cache (RESPONSE_CACHE_MS, bounded by RESPONSE_CACHE_MAX_BYTES)',
  );
  readonly answerBudgetBytes = this.declare.gauge(
    'answer_budget_reserved_bytes',
    'Bytes of istiod answers reserved by running fan-outs (bounded by MAX_INFLIGHT_ANSWER_BYTES)',
  );
  readonly answerBudgetWaiting = this.declare.gauge(
    'answer_budget_waiting',
    'Fan-outs waiting for answer memory (bounded by ANSWER_BUDGET_MAX_WAITING)',
  );
  readonly answerBudgetQueued = this.declare.counter(
    'answer_budget_queued_total',
    'Fan-outs that had to wait for answer memory before starting',
  );
  readonly answerBudgetRejected = this.declare.counter(
    'answer_budget_rejected_total',
    'Requests refused with RESOURCE_EXHAUSTED for want of answer memory, by reason (timeout, queue_full)',
    ['reason'],
  );

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: PREFIX });
  }
}
