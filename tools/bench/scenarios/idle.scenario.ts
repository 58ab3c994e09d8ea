import { setTimeout as sleep } from 'node:timers/promises';
import { atMost, replicas, withEnvironment, type Scenario } from '../scenario.js';
import { round } from '../stats.js';

const MIB = 1024 * 1024;
/** The performance issue's goal for `node dist/main.js` before its first request. */
const MAX_IDLE_RSS_MIB = 110;

/**
 * `node dist/main.js` with static discovery (the fan-out scenario's replicas), TLS and JWKS token
 * verification, as every other scenario starts it: its resident memory before the first request.
 * Read `idleSettleMs` after /healthz turned ready (the baseline the other scenarios' "above idle"
 * figures subtract), and again `settleMs` later to show it has settled.
 */
export const idleScenario: Scenario = {
  id: 'idle',
  title: 'Idle proxy (static discovery)',
  async run(context) {
    const sizes = context.profile.idle;
    const istiods = replicas(sizes.istiods, 'idle', sizes.proxiesEach, () => 0);
    return withEnvironment(context, { istiods }, async (environment) => {
      const atReady = environment.proxyIdle;
      await sleep(sizes.settleMs);
      const later = environment.proxy.memory();
      const idleMiB = round(atReady.rssBytes / MIB, 1);
      return {
        params: { ...sizes, readAfterReadyMs: context.profile.idleSettleMs },
        variants: [],
        metrics: {
          proxyIdleRssBytes: atReady.rssBytes,
          proxyIdlePeakRssBytes: atReady.peakRssBytes,
          proxyIdleRssLaterBytes: later.rssBytes,
        },
        goals: [
          atMost(
            'idle-rss',
            `proxy RSS before the first request (VmRSS ${context.profile.idleSettleMs} ms after ready; ${sizes.istiods} static istiods)`,
            idleMiB,
            MAX_IDLE_RSS_MIB,
            'MiB',
          ),
        ],
        notes: [
          `VmRSS ${round(later.rssBytes / MIB, 1)} MiB another ${sizes.settleMs} ms later; VmHWM at the first reading ${round(atReady.peakRssBytes / MIB, 1)} MiB (startup peak).`,
        ],
      };
    });
  },
};
