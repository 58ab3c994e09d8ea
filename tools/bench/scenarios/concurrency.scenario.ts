import { SYNCZ_TYPE_URL } from '../../sim/debug-generators.js';
import { LOAD_COMMANDS, type ConcurrencyJob, type ConcurrencyResult } from '../load-jobs.js';
import { readCpuMs } from '../proc-stats.js';
import { atLeast, atMost, replicas, withEnvironment, type Scenario } from '../scenario.js';
import { ratio, round, summarize } from '../stats.js';

/** p99 may be at most this many times p50 under load: queueing is fair, nobody starves. */
const TAIL_FACTOR = 3;
/**
 * Requests/s BENCHMARKS.md reported for this scenario before the performance issue (run
 * 2026-11-25T13-45-52-201Z, Node 20, same sizes); the issue asks for at least twice as many.
 */
export const THROUGHPUT_BEFORE_PER_S = 225;
const THROUGHPUT_FACTOR = 2;
/** The status a proxy limit (streams, answer memory) refuses a request with. */
const LIMIT_STATUS = 'RESOURCE_EXHAUSTED';

/**
 * Many istioctl users at once: each with a token of its own (ServiceAccount `user-<n>` in
 * istio-system, signed by the bench issuer, so each is a distinct caller to the proxy's limits and
 * coalescing) and a connection of its own, each making its requests one after another (a new stream
 * per request, as istioctl does). The proxy runs with its production limits. Bounded: users ×
 * requests, and a time budget.
 */
export const concurrencyScenario: Scenario = {
  id: 'concurrency',
  title: 'Concurrency (syncz)',
  async run(context) {
    const sizes = context.profile.concurrency;
    const istiods = replicas(sizes.istiods, 'busy', sizes.proxiesEach, () => 0);
    return withEnvironment(context, { istiods }, async (environment) => {
      const tokens = await Promise.all(
        Array.from({ length: sizes.concurrency }, (_, user) => context.credentials.mintToken('istio-system', `user-${user}`)),
      );
      const job: ConcurrencyJob = {
        address: environment.proxy.address,
        request: { typeUrl: SYNCZ_TYPE_URL, resourceNames: [], minResources: sizes.istiods * sizes.proxiesEach },
        tokens,
        requestsPerStream: sizes.requestsPerStream,
        warmupPerStream: sizes.warmupPerStream,
        timeoutMs: context.profile.requestTimeoutMs,
        budgetMs: environment.budget(sizes.budgetMs),
      };
      const limits = environment.proxy.limits();
      // All three processes: on 2 cores the harness's own CPU per request bounds throughput as much as the proxy's.
      const cpuOf = () => ({
        proxy: environment.proxy.cpuMs(),
        fleet: readCpuMs(environment.fleet.pid),
        client: readCpuMs(environment.client.pid),
      });
      const cpuBefore = cpuOf();
      const result = await environment.call<ConcurrencyResult>(LOAD_COMMANDS.concurrency, job, job.budgetMs);
      const cpuAfter = cpuOf();
      const proxyCpuMs = cpuAfter.proxy - cpuBefore.proxy;
      const latency = summarize(result.samplesMs);
      const attempted = result.samplesMs.length + result.errors;
      const planned = sizes.concurrency * sizes.requestsPerStream;
      // The CPU window is the whole job: the TLS handshakes, the warm-up and the measured requests.
      const perRequest = (ms: number) => round(ms / Math.max(1, attempted + sizes.concurrency * sizes.warmupPerStream));
      const throughput = round((result.samplesMs.length * 1000) / result.wallMs, 1);
      const refusedByLimit = result.errorCodes[LIMIT_STATUS] ?? 0;
      const limitsLine =
        `MAX_CONCURRENT_STREAMS=${limits.maxConcurrentStreams}, MAX_STREAMS_PER_CALLER=${limits.maxStreamsPerCaller}, ` +
        `MAX_INFLIGHT_ANSWER_BYTES=${limits.maxInflightAnswerBytes}, ANSWER_BUDGET_MAX_WAITING=${limits.answerBudgetMaxWaiting}, ` +
        `RESPONSE_CACHE_MS=${limits.responseCacheMs}`;
      return {
        params: { ...sizes, requests: planned, proxyLimits: limitsLine },
        variants: [
          {
            label: 'proxy',
            role: 'subject',
            description: `${sizes.concurrency} concurrent istioctl users (own token and connection each) × ${sizes.requestsPerStream} requests → proxy → ${sizes.istiods} istiods`,
            latency,
            repMediansMs: [],
            errors: result.errors,
            errorMessages: result.errorMessages,
            resources: sizes.istiods * sizes.proxiesEach,
            resourceBytes: 0,
          },
        ],
        metrics: {
          users: sizes.concurrency,
          clientConnections: result.connections,
          requests: attempted,
          completed: result.samplesMs.length,
          errors: result.errors,
          refusedByLimit,
          wallMs: round(result.wallMs),
          p50Ms: latency.medianMs,
          p99Ms: latency.p99Ms,
          throughputPerSecond: throughput,
          p99OverP50: ratio(latency.p99Ms, latency.medianMs),
          proxyCpuMsPerRequest: perRequest(proxyCpuMs),
          fleetCpuMsPerRequest: perRequest(cpuAfter.fleet - cpuBefore.fleet),
          clientCpuMsPerRequest: perRequest(cpuAfter.client - cpuBefore.client),
          proxyIdleRssBytes: environment.proxyIdle.rssBytes,
          proxyPeakRssBytes: environment.proxy.memory().peakRssBytes,
        },
        goals: [
          // Requests never started because the budget ran out count as failed too.
          atMost('errors', `failed requests of ${planned}`, planned - result.samplesMs.length, 0),
          atMost('refused-by-limit', `requests a proxy limit refused (${LIMIT_STATUS}; production defaults)`, refusedByLimit, 0),
          atMost('tail', `p99 / p50 under ${sizes.concurrency} concurrent users`, ratio(latency.p99Ms, latency.medianMs), TAIL_FACTOR),
          atLeast(
            'throughput',
            `throughput, requests/s (${THROUGHPUT_FACTOR}× the ${THROUGHPUT_BEFORE_PER_S}/s measured before)`,
            throughput,
            THROUGHPUT_FACTOR * THROUGHPUT_BEFORE_PER_S,
            'req/s',
          ),
        ],
        notes: [
          `Repetitions here are each user's ${sizes.requestsPerStream} sequential requests; p50/p99 are over all ${attempted} requests.`,
          `The proxy ran with its production limits: ${limitsLine}.`,
          `Connections the client held to the proxy once every user was connected: ${result.connections} (one per user expected).`,
          ...(Object.keys(result.errorCodes).length > 0 ? [`Failures by status: ${JSON.stringify(result.errorCodes)}`] : []),
          ...(refusedByLimit > 0 ? [`A proxy limit refused ${refusedByLimit} requests: ${result.errorMessages.join(' | ')}`] : []),
          ...(result.truncated ? ['stopped early: the time budget ran out (counted as errors)'] : []),
        ],
      };
    });
  },
};
