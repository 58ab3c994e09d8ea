import { SYNCZ_TYPE_URL } from '../../sim/debug-generators.js';
import { FLEET_COMMANDS, requestsBetween, type RequestCounts } from '../fleet-spec.js';
import { LOAD_COMMANDS, type BurstJob, type BurstResult } from '../load-jobs.js';
import { atMost, replicas, withEnvironment, type Scenario } from '../scenario.js';
import { median, ratio, summarize } from '../stats.js';

const COUNTS_TIMEOUT_MS = 10_000;
/** With coalescing, a burst costs each replica one call (two if the burst straddles one finishing). */
const MAX_UPSTREAM_PER_BURST = 2;

/**
 * One caller sends the same request many times at once. A coalescing proxy asks each istiod once;
 * without coalescing each istiod sees every request. Counted by the simulators themselves.
 */
export const coalescingScenario: Scenario = {
  id: 'coalescing',
  title: 'Request coalescing (syncz)',
  async run(context) {
    const sizes = context.profile.coalescing;
    const istiods = replicas(sizes.istiods, 'same', sizes.proxiesEach, () => sizes.delayMs);
    return withEnvironment(context, { istiods }, async (environment) => {
      const counts = () => environment.fleet.call<RequestCounts>(FLEET_COMMANDS.requestCounts, undefined, COUNTS_TIMEOUT_MS);
      const deadline = Date.now() + environment.budget(sizes.budgetMs);
      const job: BurstJob = {
        address: environment.proxy.address,
        request: { typeUrl: SYNCZ_TYPE_URL, resourceNames: [], minResources: sizes.istiods * sizes.proxiesEach },
        count: sizes.burst,
        token: context.istioctlToken,
        timeoutMs: context.profile.requestTimeoutMs,
      };
      const burst = () => environment.call<BurstResult>(LOAD_COMMANDS.burst, job, 0);

      await burst(); // warm-up: connections, TLS, JIT
      const perBurstMax: number[] = [];
      const perIstiod: Array<Record<string, number>> = [];
      const samplesMs: number[] = [];
      const errorMessages: string[] = [];
      let errors = 0;
      let truncated = false;
      for (let rep = 0; rep < context.reps; rep++) {
        if (Date.now() > deadline) {
          truncated = true;
          break;
        }
        const before = await counts();
        const result = await burst();
        const seen = requestsBetween(before, await counts(), SYNCZ_TYPE_URL);
        perIstiod.push(seen);
        perBurstMax.push(Math.max(...Object.values(seen)));
        samplesMs.push(...result.samplesMs);
        errors += result.errors;
        for (const message of result.errorMessages) if (!errorMessages.includes(message)) errorMessages.push(message);
      }
      const worst = perBurstMax.length ? Math.max(...perBurstMax) : Number.NaN;
      return {
        params: { ...sizes, reps: context.reps },
        variants: [
          {
            label: 'proxy',
            role: 'subject',
            description: `${sizes.burst} identical concurrent syncz requests from one caller → proxy → ${sizes.istiods} istiods`,
            latency: summarize(samplesMs),
            repMediansMs: [],
            errors,
            errorMessages,
            resources: sizes.istiods * sizes.proxiesEach,
            resourceBytes: 0,
          },
        ],
        metrics: {
          requestsPerBurst: sizes.burst,
          maxUpstreamRequestsPerIstiod: worst,
          medianOfBurstMaxima: median(perBurstMax),
          upstreamPerClientRequest: ratio(worst, sizes.burst),
        },
        goals: [
          atMost('upstream-requests', `requests any istiod saw per burst of ${sizes.burst} (worst burst)`, worst, MAX_UPSTREAM_PER_BURST),
          atMost('errors', 'failed or incomplete answers', errors, 0),
        ],
        notes: [
          `Requests each istiod saw, per burst: ${perIstiod.map((seen) => JSON.stringify(seen)).join(' ')}`,
          ...(truncated ? ['stopped early: the time budget ran out'] : []),
        ],
      };
    });
  },
};
