import { SYNCZ_TYPE_URL } from '../../sim/debug-generators.js';
import { LOAD_COMMANDS, type ConcurrencyJob, type ConcurrencyResult } from '../load-jobs.js';
import { atMost, replicas, withEnvironment, type Scenario } from '../scenario.js';
import { ratio, round, summarize } from '../stats.js';

/** p99 may be at most this many times p50 under load: queueing is fair, nobody starves. */
const TAIL_FACTOR = 3;

/**
 * Many istioctl users at once: each on its own connection, each making its requests one after
 * another (a new stream per request, as istioctl does). Bounded: users × requests, and a time budget.
 */
export const concurrencyScenario: Scenario = {
  id: 'concurrency',
  title: 'Concurrency (syncz)',
  async run(context) {
    const sizes = context.profile.concurrency;
    const istiods = replicas(sizes.istiods, 'busy', sizes.proxiesEach, () => 0);
    return withEnvironment(context, { istiods }, async (environment) => {
      // Distinct users, as 200 people running istioctl would be: the proxy limits and coalesces per caller.
      const tokens = await Promise.all(
        Array.from({ length: sizes.concurrency }, (_, user) => context.credentials.mintToken(`bench-user-${user}`, 'istioctl')),
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
      const cpuBefore = environment.proxy.cpuMs();
      const result = await environment.call<ConcurrencyResult>(LOAD_COMMANDS.concurrency, job, job.budgetMs);
      const proxyCpuMs = environment.proxy.cpuMs() - cpuBefore;
      const latency = summarize(result.samplesMs);
      const attempted = result.samplesMs.length + result.errors;
      const planned = sizes.concurrency * sizes.requestsPerStream;
      return {
        params: { ...sizes, requests: planned },
        variants: [
          {
            label: 'proxy',
            role: 'subject',
            description: `${sizes.concurrency} concurrent istioctl users × ${sizes.requestsPerStream} requests → proxy → ${sizes.istiods} istiods`,
            latency,
            repMediansMs: [],
            errors: result.errors,
            errorMessages: result.errorMessages,
            resources: sizes.istiods * sizes.proxiesEach,
            resourceBytes: 0,
          },
        ],
        metrics: {
          requests: attempted,
          completed: result.samplesMs.length,
          errors: result.errors,
          wallMs: round(result.wallMs),
          throughputPerSecond: round((result.samplesMs.length * 1000) / result.wallMs, 1),
          p99OverP50: ratio(latency.p99Ms, latency.medianMs),
          proxyCpuMsPerRequest: round(proxyCpuMs / Math.max(1, attempted + sizes.concurrency * sizes.warmupPerStream)),
          proxyPeakRssBytes: environment.proxy.memory().peakRssBytes,
        },
        goals: [
          // Requests never started because the budget ran out count as failed too.
          atMost('errors', `failed requests of ${planned}`, planned - result.samplesMs.length, 0),
          atMost('tail', `p99 / p50 under ${sizes.concurrency} concurrent streams`, ratio(latency.p99Ms, latency.medianMs), TAIL_FACTOR),
        ],
        notes: [
          `Repetitions here are each user's ${sizes.requestsPerStream} sequential requests; p50/p99 are over all ${attempted} requests.`,
          ...(result.truncated ? ['stopped early: the time budget ran out (counted as errors)'] : []),
        ],
      };
    });
  },
};
