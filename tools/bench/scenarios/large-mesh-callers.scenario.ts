import { SYNCZ_TYPE_URL } from '../../sim/debug-generators.js';
import { LOAD_COMMANDS, type ConcurrencyJob, type ConcurrencyResult } from '../load-jobs.js';
import { atMost, replicas, withEnvironment, type Scenario } from '../scenario.js';
import { round, summarize } from '../stats.js';

const MIB = 1024 * 1024;
/** The performance issue's goal: five callers' ≈ 40 MB answers at once fit in 640 MB above idle. */
const MAX_PEAK_ABOVE_IDLE_MIB = 640;

/**
 * Several different callers (a token each: ServiceAccount `caller-<n>` in istio-system, so the proxy
 * may not share one answer between them) ask for the large mesh at the same moment, each on its own
 * connection, connected beforehand; `reps` rounds, on a fresh proxy whose idle RSS is read first.
 * Every answer must be complete (all proxies of every replica).
 */
export const largeMeshCallersScenario: Scenario = {
  id: 'large-mesh-callers',
  title: 'Large mesh, concurrent callers',
  async run(context) {
    const sizes = context.profile.largeMeshCallers;
    const istiods = replicas(sizes.istiods, 'large', sizes.proxiesEach, () => 0);
    const total = sizes.istiods * sizes.proxiesEach;
    return withEnvironment(context, { istiods }, async (environment) => {
      const tokens = await Promise.all(
        Array.from({ length: sizes.callers }, (_, caller) => context.credentials.mintToken('istio-system', `caller-${caller}`)),
      );
      const deadline = Date.now() + environment.budget(sizes.budgetMs);
      const samplesMs: number[] = [];
      const errorMessages: string[] = [];
      const errorCodes: Record<string, number> = {};
      const peaksMiB: number[] = [];
      let errors = 0;
      let rounds = 0;
      let answerBytes = 0;
      let truncated = false;
      const cpuBefore = environment.proxy.cpuMs();
      for (let rep = 0; rep < context.reps; rep++) {
        if (Date.now() > deadline) {
          truncated = true;
          break;
        }
        const job: ConcurrencyJob = {
          address: environment.proxy.address,
          request: { typeUrl: SYNCZ_TYPE_URL, resourceNames: [], minResources: total },
          tokens,
          requestsPerStream: 1,
          warmupPerStream: 0,
          timeoutMs: context.profile.requestTimeoutMs,
          budgetMs: Math.max(0, deadline - Date.now()),
        };
        const result = await environment.call<ConcurrencyResult>(LOAD_COMMANDS.concurrency, job, job.budgetMs);
        rounds++;
        samplesMs.push(...result.samplesMs);
        answerBytes = result.resourceBytes || answerBytes;
        errors += result.errors + (result.truncated ? sizes.callers - result.samplesMs.length - result.errors : 0);
        for (const message of result.errorMessages) if (!errorMessages.includes(message)) errorMessages.push(message);
        for (const [code, count] of Object.entries(result.errorCodes)) errorCodes[code] = (errorCodes[code] ?? 0) + count;
        peaksMiB.push(round((environment.proxy.memory().peakRssBytes - environment.proxyIdle.rssBytes) / MIB, 1));
      }
      const proxyCpuMs = environment.proxy.cpuMs() - cpuBefore;
      const { peakRssBytes } = environment.proxy.memory();
      const idleRssBytes = environment.proxyIdle.rssBytes;
      const aboveIdleMiB = round((peakRssBytes - idleRssBytes) / MIB, 1);
      const answers = rounds * sizes.callers;
      return {
        params: { ...sizes, rounds, mergedProxies: total },
        variants: [
          {
            label: 'proxy',
            role: 'subject',
            description: `${sizes.callers} callers (own token and connection each) at once → proxy → ${sizes.istiods} istiods × ${sizes.proxiesEach} proxies`,
            latency: summarize(samplesMs),
            repMediansMs: [],
            errors,
            errorMessages,
            resources: total,
            resourceBytes: answerBytes,
          },
        ],
        metrics: {
          answers,
          completeAnswers: samplesMs.length,
          mergedResourceBytes: answerBytes,
          proxyIdleRssBytes: idleRssBytes,
          proxyPeakRssBytes: peakRssBytes,
          proxyPeakRssAboveIdleBytes: peakRssBytes - idleRssBytes,
          proxyCpuMsPerRequest: round(proxyCpuMs / Math.max(1, answers)),
        },
        goals: [
          atMost(
            'peak-rss',
            `proxy peak RSS (VmHWM) above idle (${round(idleRssBytes / MIB, 1)} MiB), ${sizes.callers} callers × ${round(answerBytes / MIB, 1)} MiB at once`,
            aboveIdleMiB,
            MAX_PEAK_ABOVE_IDLE_MIB,
            'MiB',
          ),
          atMost('errors', `failed or incomplete answers of ${answers}`, answers - samplesMs.length, 0),
        ],
        notes: [
          `Peak above idle after each round (MiB): ${peaksMiB.join(', ')}.`,
          ...(Object.keys(errorCodes).length > 0
            ? [`Failures by status: ${JSON.stringify(errorCodes)}: ${errorMessages.join(' | ')}`]
            : []),
          ...(truncated ? ['stopped early: the time budget ran out'] : []),
        ],
      };
    });
  },
};
