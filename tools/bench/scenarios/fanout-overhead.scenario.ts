import { SYNCZ_TYPE_URL } from '../../sim/debug-generators.js';
import {
  CLIENT_PARALLEL_DESCRIPTION,
  addressOf,
  atMost,
  attempts,
  cpuBreakdown,
  latencyJob,
  measureLatency,
  measuredOnly,
  noErrors,
  replicas,
  reportVariants,
  variant,
  within,
  withEnvironment,
  type Scenario,
} from '../scenario.js';
import { ratio, round } from '../stats.js';

/** Tolerance of the "sequential ≈ N×" expectation: a sequential fan-out pays each replica's delay in turn. */
const SEQUENTIAL_TOLERANCE = 0.25;
/** The performance issue's goals: the proxy adds ≤ 5% to the client's own parallel fan-out, ≤ 10 ms CPU per merged answer. */
const MAX_OVER_CLIENT_PARALLEL = 1.05;
const MAX_CPU_MS_PER_REQUEST = 10;
/** `node dist/main.js` with static discovery, before its first request. */
const MAX_IDLE_RSS_MIB = 110;
const MIB = 1024 * 1024;

/**
 * `istioctl proxy-status` against N replicas that each take `delayMs` to answer: through the proxy
 * (parallel), straight to one replica (the physical floor: no fan-out can beat its slowest replica),
 * and one replica after another (what the Go sample does over port-forwards).
 */
export const fanoutOverheadScenario: Scenario = {
  id: 'fanout',
  title: 'Fan-out overhead (syncz)',
  async run(context) {
    const sizes = context.profile.fanout;
    const istiods = replicas(sizes.istiods, 'fanout', sizes.proxiesEach, () => sizes.delayMs);
    const total = sizes.istiods * sizes.proxiesEach;
    return withEnvironment(context, { istiods }, async (environment) => {
      const slowest = istiods[istiods.length - 1].name;
      const all = istiods.map(({ name }) => addressOf(environment, name));
      const request = (minResources: number) => ({ typeUrl: SYNCZ_TYPE_URL, resourceNames: [], minResources });
      const { result, proxyCpuMs, proxyCpu, mainThreadShare } = await measureLatency(
        environment,
        latencyJob(context, environment, sizes, [
          { label: 'proxy', addresses: [environment.proxy.address], request: request(total) },
          { label: 'direct', addresses: [addressOf(environment, slowest)], request: request(sizes.proxiesEach) },
          { label: 'sequential', addresses: all, mode: 'sequential', request: request(total) },
          { label: 'client-parallel', addresses: all, mode: 'parallel', request: request(total) },
        ]),
      );
      const variants = reportVariants(
        result.variants,
        {
          proxy: { role: 'subject', description: `istioctl → proxy → ${sizes.istiods} istiods in parallel` },
          direct: { role: 'baseline', description: `istioctl → one istiod (${slowest}), the physical floor` },
          sequential: { role: 'baseline', description: `istioctl-side loop over ${sizes.istiods} istiods, one after another` },
          'client-parallel': { role: 'baseline', description: CLIENT_PARALLEL_DESCRIPTION(sizes.istiods) },
        },
        'direct',
      );
      const proxy = variant(variants, 'proxy');
      const cpuMsPerRequest = round(proxyCpuMs / Math.max(1, attempts(proxy)));
      const overClientParallel = ratio(proxy.latency.medianMs, variant(variants, 'client-parallel').latency.medianMs);
      const mergedMiB = round(proxy.resourceBytes / MIB, 1);
      const sequential = variant(variants, 'sequential');
      return {
        params: { ...sizes, reps: context.reps, warmupOps: context.profile.warmupOps, mergedProxies: total },
        variants,
        metrics: {
          sequentialOverProxyP50: ratio(sequential.latency.medianMs, proxy.latency.medianMs),
          proxyOverClientParallelP50: overClientParallel,
          mergedResourceBytes: proxy.resourceBytes,
          proxyCpuMsPerRequest: cpuMsPerRequest,
          ...cpuBreakdown(proxyCpu, mainThreadShare, attempts(proxy)),
          proxyIdleRssBytes: environment.proxyIdle.rssBytes,
          // Where idle RSS lives: mapped files (node's code) vs anonymous memory, and V8's heap in it.
          ...measuredOnly({
            proxyIdleFileRssBytes: environment.proxyIdle.fileRssBytes,
            proxyIdleAnonRssBytes: environment.proxyIdle.anonRssBytes,
            proxyIdleHeapTotalBytes: environment.proxyIdleRuntime.heapTotalBytes,
            proxyIdleHeapUsedBytes: environment.proxyIdleRuntime.heapUsedBytes,
            proxyIdleExternalBytes: environment.proxyIdleRuntime.externalBytes,
          }),
          proxyPeakRssBytes: environment.proxy.memory().peakRssBytes,
        },
        goals: [
          atMost(
            'over-client-parallel',
            `p50(proxy) / p50(client's own parallel fan-out to the ${sizes.istiods})`,
            overClientParallel,
            MAX_OVER_CLIENT_PARALLEL,
          ),
          atMost(
            'cpu-per-request',
            `proxy CPU per request (${mergedMiB} MiB merged answer; utime+stime over the measured phase)`,
            cpuMsPerRequest,
            MAX_CPU_MS_PER_REQUEST,
            'ms',
          ),
          atMost(
            'idle-rss',
            `proxy RSS before its first request (VmRSS ${context.profile.idleSettleMs} ms after ready; static discovery, ${sizes.istiods} istiods)`,
            round(environment.proxyIdle.rssBytes / MIB, 1),
            MAX_IDLE_RSS_MIB,
            'MiB',
          ),
          atMost('proxy-overhead', 'p50(proxy) / p50(direct one istiod)', proxy.p50Ratio ?? Number.NaN, 1.15),
          within(
            'sequential-cost',
            `p50(sequential) / p50(direct) ≈ ${sizes.istiods}×`,
            sequential.p50Ratio ?? Number.NaN,
            sizes.istiods * (1 - SEQUENTIAL_TOLERANCE),
            sizes.istiods * (1 + SEQUENTIAL_TOLERANCE),
          ),
          noErrors(variants),
        ],
        notes: result.truncated ? ['stopped early: the time budget ran out'] : [],
      };
    });
  },
};
