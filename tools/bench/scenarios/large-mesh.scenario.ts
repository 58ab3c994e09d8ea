import { SYNCZ_TYPE_URL } from '../../sim/debug-generators.js';
import type { IstiodSpec } from '../fleet-spec.js';
import {
  CLIENT_PARALLEL_DESCRIPTION,
  addressOf,
  atMost,
  noErrors,
  replicas,
  reportVariants,
  variant,
  withEnvironment,
  type Scenario,
} from '../scenario.js';
import { ratio, round } from '../stats.js';

const MIB = 1024 * 1024;
/** Peak RSS budget: 2.5 × the merged payload + 150 MB for the runtime itself. */
const RSS_PAYLOAD_FACTOR = 2.5;
const RSS_BASE_BYTES = 150 * MIB;
const UNION_ISTIOD = 'istiod-large-all';

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
    return withEnvironment(
      context,
      { istiods: [...fanned, union], behindProxy: ({ name }) => name !== UNION_ISTIOD },
      async (environment) => {
        const request = { typeUrl: SYNCZ_TYPE_URL, resourceNames: [], minResources: total };
        const cpuBefore = environment.proxy.cpuMs();
        const result = await environment.runLatency({
          variants: [
            { label: 'proxy', addresses: [environment.proxy.address], request },
            { label: 'direct', addresses: [addressOf(environment, UNION_ISTIOD)], request },
            { label: 'client-parallel', addresses: fanned.map(({ name }) => addressOf(environment, name)), mode: 'parallel', request },
          ],
          token: context.istioctlToken,
          warmupOps: Math.min(context.profile.warmupOps, 1),
          reps: context.reps,
          opsPerRep: sizes.opsPerRep,
          timeoutMs: context.profile.requestTimeoutMs,
          budgetMs: environment.budget(sizes.budgetMs),
        });
        const { peakRssBytes } = environment.proxy.memory();
        const proxyCpuMs = environment.proxy.cpuMs() - cpuBefore;
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
        const rssLimit = RSS_PAYLOAD_FACTOR * mergedBytes + RSS_BASE_BYTES;
        const operations = proxy.latency.count + Math.min(context.profile.warmupOps, 1);
        return {
          params: { ...sizes, reps: context.reps, mergedProxies: total },
          variants,
          metrics: {
            mergedResourceBytes: mergedBytes,
            proxyOverClientParallelP50: ratio(proxy.latency.medianMs, variant(variants, 'client-parallel').latency.medianMs),
            proxyPeakRssBytes: peakRssBytes,
            proxyRssLimitBytes: rssLimit,
            proxyPeakRssOverPayload: ratio(peakRssBytes, mergedBytes),
            proxyCpuMsPerRequest: round(proxyCpuMs / Math.max(1, operations)),
          },
          goals: [
            atMost('large-ratio', 'p50(proxy) / p50(direct, same bytes)', proxy.p50Ratio ?? Number.NaN, 1.5),
            atMost(
              'peak-rss',
              `proxy peak RSS (VmHWM), limit 2.5 × merged payload (${round(mergedBytes / MIB, 1)} MiB) + 150 MiB`,
              round(peakRssBytes / MIB, 1),
              round(rssLimit / MIB, 1),
              'MiB',
            ),
            noErrors(variants),
          ],
          notes: result.truncated ? ['stopped early: the time budget ran out'] : [],
        };
      },
    );
  },
};
