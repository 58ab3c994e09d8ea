import { CONFIG_DUMP_TYPE_URL } from '../../sim/debug-generators.js';
import { generateProxies } from '../../sim/mesh-fixtures.js';
import {
  CLIENT_PARALLEL_DESCRIPTION,
  addressOf,
  atMost,
  noErrors,
  replicas,
  reportVariants,
  latencyJob,
  variant,
  withEnvironment,
  type Scenario,
} from '../scenario.js';
import { ratio, round } from '../stats.js';

/**
 * `istioctl proxy-status <pod>`: only the last replica holds the pod and it is the slowest; the others
 * answer empty sooner. The proxy must return as soon as the holder answers: compare with asking the
 * holder directly.
 */
export const configDumpLookupScenario: Scenario = {
  id: 'config-dump',
  title: 'config_dump lookup',
  async run(context) {
    const sizes = context.profile.configDump;
    const holderIndex = sizes.istiods - 1;
    const istiods = replicas(sizes.istiods, 'lookup', sizes.proxiesEach, (index) =>
      index === holderIndex ? sizes.holderDelayMs : sizes.othersDelayMs,
    );
    const holder = istiods[holderIndex];
    // generateProxies is deterministic: the holder's first sidecar, named as the fleet will name it.
    const [group] = holder.proxyGroups;
    const [pod] = generateProxies(1, { namespace: group.namespace, prefix: group.prefix });
    return withEnvironment(context, { istiods }, async (environment) => {
      const request = { typeUrl: CONFIG_DUMP_TYPE_URL, resourceNames: [pod.id], minResources: 1 };
      const cpuBefore = environment.proxy.cpuMs();
      const result = await environment.runLatency(
        latencyJob(context, environment, sizes, [
          { label: 'proxy', addresses: [environment.proxy.address], request },
          { label: 'direct', addresses: [addressOf(environment, holder.name)], request },
          { label: 'client-parallel', addresses: istiods.map(({ name }) => addressOf(environment, name)), mode: 'parallel', request },
        ]),
      );
      const variants = reportVariants(
        result.variants,
        {
          proxy: { role: 'subject', description: `istioctl → proxy → ${sizes.istiods} istiods, holder last and slowest` },
          direct: { role: 'baseline', description: `istioctl → the holder (${holder.name}) directly` },
          'client-parallel': { role: 'baseline', description: CLIENT_PARALLEL_DESCRIPTION(sizes.istiods) },
        },
        'direct',
      );
      const proxy = variant(variants, 'proxy');
      const proxyRequests = proxy.latency.count + proxy.errors + context.profile.warmupOps;
      return {
        params: { ...sizes, reps: context.reps, pod: pod.id },
        variants,
        metrics: {
          proxyOverClientParallelP50: ratio(proxy.latency.medianMs, variant(variants, 'client-parallel').latency.medianMs),
          proxyCpuMsPerRequest: round((environment.proxy.cpuMs() - cpuBefore) / proxyRequests),
          proxyPeakRssBytes: environment.proxy.memory().peakRssBytes,
        },
        goals: [
          atMost('lookup-overhead', 'p50(proxy) / p50(direct to the holder)', proxy.p50Ratio ?? Number.NaN, 1.15),
          noErrors(variants),
        ],
        notes: result.truncated ? ['stopped early: the time budget ran out'] : [],
      };
    });
  },
};
