import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { TypeUrlLabels } from './type-url-labels.js';

const PREFIX = 'istioctl_proxy_';
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** prom-client's options of a metric: its name (without PREFIX), help and labels (none: one series). */
const options = <L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[]) => ({
  name: `${PREFIX}${name}`,
  help,
  labelNames,
  registers: [registry],
});
// Each declares a metric, created in a registry when the service is.
const counter =
  <L extends string = string>(name: string, help: string, labels: readonly L[] = []) =>
  (registry: Registry) =>
    new Counter<L>(options(registry, name, help, labels));
const gauge =
  <L extends string = string>(name: string, help: string, labels: readonly L[] = []) =>
  (registry: Registry) =>
    new Gauge<L>(options(registry, name, help, labels));
/** Durations, in seconds, counted in LATENCY_BUCKETS. */
const histogram =
  <L extends string>(name: string, help: string, labels: readonly L[]) =>
  (registry: Registry) =>
    new Histogram<L>({ ...options(registry, name, help, labels), buckets: LATENCY_BUCKETS });

/**
 * Every metric the proxy exports on /metrics, by the MetricsService property that holds it. Every
 * label has a bounded set of values: `type_url` through `typeUrls`, `instance` only for pods still
 * in discovery (the aggregation module removes a departed pod's series).
 */
const METRICS = {
  // Requests and fan-outs.
  requests: counter('requests_total', 'istioctl requests answered, by type URL and gRPC result code', ['type_url', 'code']),
  fanoutDuration: histogram('fanout_duration_seconds', 'Time from request to merged answer', ['type_url']),
  istiodDuration: histogram('istiod_request_duration_seconds', 'Time each istiod took to answer (or fail)', ['instance', 'outcome']),
  istiodErrors: counter(
    'istiod_errors_total',
    'Per-istiod failures by reason (timeout, unavailable, resource_exhausted...); refusals of the caller are not failures',
    ['instance', 'reason'],
  ),
  callerDenied: counter(
    'istiod_caller_denied_total',
    "istiod answers refusing the caller's token or rights, by reason (permission_denied, unauthenticated)",
    ['reason'],
  ),
  partialAnswers: counter('partial_answers_total', 'Answers merged without every istiod (PARTIAL_RESULTS=allow)', ['type_url']),
  // Discovery.
  instances: gauge('istiod_instances', 'istiod instances currently known, by state (discovered pods, ready instances)', ['state']),
  watchRestarts: counter('watch_restarts_total', 'Kubernetes watch restarts after errors'),
  // Callers' tokens.
  tokenVerifications: counter(
    'token_verifications_total',
    'Caller token checks by result (ok, unauthenticated, permission_denied, unavailable)',
    ['mode', 'result'],
  ),
  tokenReviewCacheHits: counter(
    'tokenreview_cache_hits_total',
    'Token verifications answered from the TokenReview cache (or a review already in flight)',
  ),
  tokenReviews: counter('tokenreviews_total', 'TokenReview calls made, by outcome', ['outcome']),
  authClusters: gauge(
    'auth_clusters',
    'Clusters whose ServiceAccount tokens are accepted (AUTH_MODE=tokenreview), by source (static, remote-secret)',
    ['source'],
  ),
  // Streams, coalescing and the memory held for answers.
  openStreams: gauge('open_streams', 'istioctl streams currently open'),
  coalesced: counter('coalesced_requests_total', 'Requests answered by joining an identical in-flight (or cached) fan-out', ['type_url']),
  responseCacheBytes: gauge(
    'response_cache_bytes',
    'Bytes of answers held by the response cache (RESPONSE_CACHE_MS, bounded by RESPONSE_CACHE_MAX_BYTES)',
  ),
  answerBudgetBytes: gauge(
    'answer_budget_reserved_bytes',
    'Bytes of istiod answers reserved by running fan-outs (bounded by MAX_INFLIGHT_ANSWER_BYTES)',
  ),
  answerBufferPoolBytes: gauge(
    'answer_buffer_pool_bytes',
    "Bytes of sent answers' buffers kept to encode the next large answers into (bounded by ANSWER_BUFFER_POOL_BYTES)",
  ),
  answerBudgetWaiting: gauge('answer_budget_waiting', 'Fan-outs waiting for answer memory (bounded by ANSWER_BUDGET_MAX_WAITING)'),
  answerBudgetQueued: counter('answer_budget_queued_total', 'Fan-outs that had to wait for answer memory before starting'),
  answerBudgetRejected: counter(
    'answer_budget_rejected_total',
    'Requests refused with RESOURCE_EXHAUSTED for want of answer memory, by reason (timeout, queue_full)',
    ['reason'],
  ),
};

type Metrics = { readonly [K in keyof typeof METRICS]: ReturnType<(typeof METRICS)[K]> };

/** The metrics of METRICS, each created in `registry`, in table order. */
function createMetrics(registry: Registry): Metrics {
  return Object.fromEntries(Object.entries(METRICS).map(([property, create]) => [property, create(registry)])) as Metrics;
}

/** Holds one registry and every metric of METRICS (as a property of the same name) created in it. */
const RegisteredMetrics = class {
  readonly registry = new Registry();
  constructor() {
    Object.assign(this, createMetrics(this.registry));
  }
} as new () => Metrics & { readonly registry: Registry };

/**
 * Every metric the proxy exports on /metrics (declared in METRICS), plus the process metrics. One
 * registry per app instance (not prom-client's global one), so several proxies can run in one process
 * (tests) without clashing.
 */
@Injectable()
export class MetricsService extends RegisteredMetrics {
  /** Maps a caller's type URL to its bounded label value; use it for every `type_url` label. */
  readonly typeUrls = new TypeUrlLabels();

  constructor() {
    super();
    collectDefaultMetrics({ register: this.registry, prefix: PREFIX });
  }
}
