import { SYNCZ_TYPE_URL } from '../../sim/debug-generators.js';
import type { IstiodSpec } from '../fleet-spec.js';
import { LOAD_COMMANDS, type ConcurrencyJob, type ConcurrencyResult, type RequestSpec } from '../load-jobs.js';
import type { GoalResult, VariantReport } from '../results.js';
import {
  CLIENT_PARALLEL_DESCRIPTION,
  addressOf,
  atMost,
  attempts,
  cpuBreakdown,
  measureLatency,
  noErrors,
  replicas,
  reportVariants,
  variant,
  withEnvironment,
  type Environment,
  type Scenario,
  type ScenarioContext,
} from '../scenario.js';
import { ratio, round, summarize } from '../stats.js';

const MIB = 1024 * 1024;
/** The performance issue's goals for a ≈ 40 MB merged answer. */
const MAX_OVER_DIRECT = 1.3;
const MAX_CPU_MS_PER_ANSWER = 150;
/** Peak RSS above idle, per byte of merged payload. */
const MAX_RSS_PER_PAYLOAD_BYTE = 3;
/** Several callers' answers at once: peak RSS above idle. */
const MAX_CALLERS_PEAK_ABOVE_IDLE_MIB = 640;
const UNION_ISTIOD = 'istiod-large-all';

/**
 * proxy-status on a big mesh: the proxy merges N × M ClientConfigs (~2 KB each); the baseline is one
 * replica holding all of them, i.e. the same bytes fetched directly. The union replica shares the
 * very proxy objects of the others, and is not behind the proxy. Then, on the same proxy, several
 * different callers ask for the whole mesh at once (see callersPhase).
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
        const deadline = Date.now() + environment.budget(sizes.budgetMs);
        const request: RequestSpec = { typeUrl: SYNCZ_TYPE_URL, resourceNames: [], minResources: total };
        const { result, proxyCpuMs, proxyCpu, mainThreadShare } = await measureLatency(environment, {
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
        const callers = await callersPhase(
          context,
          environment,
          fanned.map(({ name }) => addressOf(environment, name)),
          request,
          Math.max(0, deadline - Date.now()),
        );
        return {
          params: { ...sizes, reps: context.reps, warmupOps, mergedProxies: total },
          variants: [...variants, ...callers.reports],
          metrics: {
            mergedResourceBytes: mergedBytes,
            proxyOverClientParallelP50: ratio(proxy.latency.medianMs, variant(variants, 'client-parallel').latency.medianMs),
            proxyCpuMsPerRequest: cpuMsPerAnswer,
            ...cpuBreakdown(proxyCpu, mainThreadShare, attempts(proxy)),
            proxyIdleRssBytes: idleRssBytes,
            proxyPeakRssBytes: peakRssBytes,
            proxyPeakRssAboveIdleBytes: peakRssBytes - idleRssBytes,
            proxyPeakRssAboveIdlePerPayloadByte: rssPerPayloadByte,
            ...callers.metrics,
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
            ...callers.goals,
          ],
          notes: [...(result.truncated ? ['stopped early: the time budget ran out'] : []), ...callers.notes],
        };
      },
    );
  },
};

interface CallersOutcome {
  reports: VariantReport[];
  metrics: Record<string, number>;
  goals: GoalResult[];
  notes: string[];
}

/** Answers of one way of asking, over all rounds. */
class CallerTally {
  readonly samplesMs: number[] = [];
  readonly errorMessages: string[] = [];
  readonly errorCodes: Record<string, number> = {};
  asked = 0;
  answerBytes = 0;

  add(result: ConcurrencyResult, callers: number): void {
    this.asked += callers;
    this.samplesMs.push(...result.samplesMs);
    this.answerBytes = result.resourceBytes || this.answerBytes;
    for (const message of result.errorMessages) if (!this.errorMessages.includes(message)) this.errorMessages.push(message);
    for (const [code, count] of Object.entries(result.errorCodes)) this.errorCodes[code] = (this.errorCodes[code] ?? 0) + count;
  }

  get failed(): number {
    return this.asked - this.samplesMs.length;
  }

  report(label: string, role: VariantReport['role'], description: string, resources: number): VariantReport {
    return {
      label,
      role,
      description,
      latency: summarize(this.samplesMs),
      repMediansMs: [],
      errors: this.failed,
      errorMessages: this.errorMessages,
      resources,
      resourceBytes: this.answerBytes,
    };
  }
}

/**
 * `callers` different callers (a token each: ServiceAccount `caller-<n>` in istio-system, so the
 * proxy may not share one answer between them) ask for the whole mesh at the same moment, each on a
 * connection of its own opened beforehand; rounds alternate with the same callers fanning out to the
 * replicas themselves (`client-parallel`: what the harness can deliver at best). VmHWM is reset first
 * (where /proc allows), so the peak is this phase's; "above idle" subtracts the RSS read before the
 * proxy's first request.
 */
async function callersPhase(
  context: ScenarioContext,
  environment: Environment,
  fanned: string[],
  request: RequestSpec,
  budgetMs: number,
): Promise<CallersOutcome> {
  const { callers, callerRounds } = context.profile.largeMesh;
  const tokens = await Promise.all(
    Array.from({ length: callers }, (_, caller) => context.credentials.mintToken('istio-system', `caller-${caller}`)),
  );
  const deadline = Date.now() + budgetMs;
  const viaProxy = new CallerTally();
  const direct = new CallerTally();
  const peaksMiB: number[] = [];
  const idleRssBytes = environment.proxyIdle.rssBytes;
  let rounds = 0;
  let truncated = false;
  const peakReset = environment.proxy.resetPeakRss();
  const rssAtReset = environment.proxy.memory().rssBytes;
  let proxyCpuMs = 0;
  const job = (fanout?: string[]): ConcurrencyJob => ({
    address: environment.proxy.address,
    fanout,
    request,
    tokens,
    requestsPerStream: 1,
    warmupPerStream: 0,
    timeoutMs: context.profile.requestTimeoutMs,
    budgetMs: Math.max(0, deadline - Date.now()),
  });
  for (let rep = 0; rep < Math.min(context.reps, callerRounds); rep++) {
    if (Date.now() > deadline) {
      truncated = true;
      break;
    }
    const cpuBefore = environment.proxy.cpuMs();
    const proxyJob = job();
    viaProxy.add(await environment.call<ConcurrencyResult>(LOAD_COMMANDS.concurrency, proxyJob, proxyJob.budgetMs), callers);
    proxyCpuMs += environment.proxy.cpuMs() - cpuBefore;
    peaksMiB.push(round((environment.proxy.memory().peakRssBytes - idleRssBytes) / MIB, 1));
    const directJob = job(fanned);
    direct.add(await environment.call<ConcurrencyResult>(LOAD_COMMANDS.concurrency, directJob, directJob.budgetMs), callers);
    rounds++;
  }
  const { peakRssBytes } = environment.proxy.memory();
  const aboveIdleMiB = round((peakRssBytes - idleRssBytes) / MIB, 1);
  const proxyReport = viaProxy.report(
    `${callers}-callers`,
    'subject',
    `${callers} different callers (own token and connection each) at once → proxy → ${fanned.length} istiods, ${rounds} round${rounds === 1 ? '' : 's'}`,
    request.minResources,
  );
  const directReport = direct.report(
    `${callers}-callers-client-parallel`,
    'baseline',
    `the same ${callers} callers at once, each fanning out to all ${fanned.length} istiods itself (no proxy)`,
    request.minResources,
  );
  proxyReport.baseline = directReport.label;
  proxyReport.p50Ratio = ratio(proxyReport.latency.medianMs, directReport.latency.medianMs);
  proxyReport.p99Ratio = ratio(proxyReport.latency.p99Ms, directReport.latency.p99Ms);
  const failures = (tally: CallerTally, what: string) =>
    Object.keys(tally.errorCodes).length > 0
      ? [`${what}: failures by status ${JSON.stringify(tally.errorCodes)}: ${tally.errorMessages.join(' | ')}`]
      : [];
  return {
    reports: [proxyReport, directReport],
    metrics: {
      callersAnswers: viaProxy.asked,
      callersCompleteAnswers: viaProxy.samplesMs.length,
      callersRssAtPhaseStartBytes: rssAtReset,
      callersPeakRssBytes: peakRssBytes,
      callersPeakRssAboveIdleBytes: peakRssBytes - idleRssBytes,
      callersProxyCpuMsPerAnswer: round(proxyCpuMs / Math.max(1, viaProxy.asked)),
      callersClientParallelFailed: direct.failed,
    },
    goals: [
      atMost(
        'callers-peak-rss',
        `${callers} callers at once (${round(viaProxy.answerBytes / MIB, 1)} MiB each): proxy peak RSS (VmHWM) above idle`,
        aboveIdleMiB,
        MAX_CALLERS_PEAK_ABOVE_IDLE_MIB,
        'MiB',
      ),
      atMost('callers-complete', `${callers} callers at once: failed or incomplete answers of ${viaProxy.asked}`, viaProxy.failed, 0),
    ],
    notes: [
      `${callers} callers at once: VmHWM ${peakReset ? `reset to the RSS (${round(rssAtReset / MIB, 1)} MiB) before the phase` : 'could not be reset: the peak covers the latency phase too'}; peak above idle after each round (MiB): ${peaksMiB.join(', ')}.`,
      ...failures(viaProxy, `${callers} callers via the proxy`),
      ...((viaProxy.errorCodes.DEADLINE_EXCEEDED ?? 0) > 0 || viaProxy.errorCodes.other
        ? [
            `${callers} callers: the proxy ran with its production FANOUT_TIMEOUT_MS=${environment.proxy.limits().fanoutTimeoutMs} (not raised); ` +
              `istiods that had not answered by then are missing from the answer or fail it.`,
          ]
        : []),
      ...failures(direct, `${callers} callers fanning out themselves`),
      ...(truncated ? [`${callers} callers: stopped early, the time budget ran out`] : []),
    ],
  };
}
