import { SYNCZ_TYPE_URL } from '../../sim/debug-generators.js';
import type { IstiodSpec } from '../fleet-spec.js';
import {
  CLIENT_PARALLEL_DESCRIPTION,
  addressOf,
  atMost,
  attempts,
  measureLatency,
  noErrors,
  replicas,
  reportVariants,
  variant,
  withEnvironment,
  type Scenario,
} from '../scenario.js';
import { ratio, round } from '../stats.js';

const MIB = 1024 * 1024;
/** The performance issue's goals for a ≈ 40 MB merged answer. */
const MAX_OVER_DIRECT = 1.3;
const MAX_CPU_MS_PER_ANSWER = 150;
/** Peak RSS above idle, per byte of merged payload. */
const MAX_RSS_PER_PAYLOAD_BYTE = 3;
export const UNION_ISTIOD = 'istiod-large-all';

/**
 * proxy-status on a big mesh: the proxy merges N × M ClientConfigs (~2 KB each); the baseline is one
 * replica holding all of them, i.e. the same bytes fetched directly. The union replica shares the
 * very proxy objects of the others, and is not behind the proxy.
 */
export const largeMeshScenario: Scenario = {
  id: 'large-mesh',
  title: 'Large mesh (merged syncz)',
  async run(context) {
    const sizes = context.profile.largeMesh;
    const fanned = replicas(sizes.istiods, 'large', sizes.proxiesEach, () => 0);
    const union: IstiodSpec = { name: UNION_ISTIOD, delayMs: 0, proxyGroups: fanned.flatMap(({ proxyGroups }) => proxyGroups) };
    const total = sizes.istiods * sizes.proxiesEach;
    const warmupOps = Math.min(context.profile.warmupOps, 1);
    return withEnvironment(
      context,
      { istiods: [...fanned, union], behindProxy: ({ name }) => name !== UNION_ISTIOD },
      async (environment) => {
        const request = { typeUrl: SYNCZ_TYPE_URL, resourceNames: [], minResources: total };
        const { result, proxyCpuMs } = await measureLatency(environment, {
          variants: [
            { label: 'proxy', addresses: [environment.proxy.address], request },
            { label: 'direct', addresses: [addressOf(environment, UNION_ISTIOD)], request },
            { label: 'client-parallel', addresses: fanned.map(({ name }) => addressOf(environment, name)), mode: 'parallel', request },
          ],
          token: context.istioctlToken,
          warmupOps,
          reps: context.reps,
          opsPerRep: sizes.opsPerRep,
          timeoutMs: context.profile.requestTimeoutMs,
          budgetMs: environment.budget(sizes.budgetMs),
        });
        const { peakRssBytes } = environment.proxy.memory();
        const idleRssBytes = environment.proxyIdle.rssBytes;
        const variants = reportVariants(
          result.variants,
          {
            proxy: { role: 'subject', description: `istioctl → proxy → ${sizes.istiods} istiods × ${sizes.proxiesEach} proxies` },
            direct: { role: 'baseline', description: `istioctl → one istiod holding all ${total} proxies (same bytes)` },
            'client-parallel': { role: 'baseline', description: CLIENT_PARALLEL_DESCRIPTION(sizes.istiods) },
          },
          'direct',
        );
        const proxy = variant(variants, 'proxy');
        const mergedBytes = proxy.resourceBytes;
        const cpuMsPerAnswer = round(proxyCpuMs / Math.max(1, attempts(proxy)));
        const rssPerPayloadByte = ratio(peakRssBytes - idleRssBytes, mergedBytes);
        return {
          params: { ...sizes, reps: context.reps, warmupOps, mergedProxies: total },
          variants,
          metrics: {
            mergedResourceBytes: mergedBytes,
            proxyOverClientParallelP50: ratio(proxy.latency.medianMs, variant(variants, 'client-parallel').latency.medianMs),
            proxyCpuMsPerRequest: cpuMsPerAnswer,
            proxyIdleRssBytes: idleRssBytes,
            proxyPeakRssBytes: peakRssBytes,
            proxyPeakRssAboveIdleBytes: peakRssBytes - idleRssBytes,
            proxyPeakRssAboveIdlePerPayloadByte: rssPerPayloadByte,
          },
          goals: [
            atMost(
              'large-ratio',
              'p50(proxy) / p50(direct, one istiod holding all, same bytes)',
              proxy.p50Ratio ?? Number.NaN,
              MAX_OVER_DIRECT,
            ),
            atMost(
              'cpu-per-answer',
              `proxy CPU per merged answer (${round(mergedBytes / MIB, 1)} MiB; utime+stime over the measured phase)`,
              cpuMsPerAnswer,
              MAX_CPU_MS_PER_ANSWER,
              'ms',
            ),
            atMost(
              'rss-per-byte',
              `proxy peak RSS (VmHWM) above idle (${round(idleRssBytes / MIB, 1)} MiB) per byte of merged payload`,
              rssPerPayloadByte,
              MAX_RSS_PER_PAYLOAD_BYTE,
              '×',
            ),
            noErrors(variants),
          ],
          notes: result.truncated ? ['stopped early: the time budget ran out'] : [],
        };
      },
    );
  },
};
