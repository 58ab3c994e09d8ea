import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../common/clock.js';
import { DiscoveryRequest } from '../../common/xds-types.js';
import { staticTestConfig } from '../../../test/kit/test-config.js';
import { instance, request } from '../../../test/kit/xds-fixtures.js';
import { IstiodInstance } from '../discovery/istiod-instance.js';
import { DeadlineBudget } from './deadline-budget.js';
import { planFanout } from './fanout-plan.js';
import { InternalDebugStrategy, PROFILE_MARGIN_MS } from './merge/internal-debug.strategy.js';
import { MergeStrategy } from './merge/merge-strategy.js';
import { SynczStrategy } from './merge/syncz.strategy.js';

const NOW = Date.parse('2026-01-01T00:00:00Z');
const budget = new DeadlineBudget(staticTestConfig({ FANOUT_TIMEOUT_MS: '3000' }), new ManualClock(NOW));
const replicas = [instance('istiod-a'), instance('istiod-b'), instance('istiod-c')];
const names = (list: IstiodInstance[]) => list.map((i) => i.name);

function strategyWith(hooks: Partial<MergeStrategy>): MergeStrategy {
  return { name: 'test', merge: () => ({ version_info: '', resources: [], type_url: '', nonce: '', control_plane: null }), ...hooks };
}

describe('planFanout', () => {
  it('asks every replica within FANOUT_TIMEOUT_MS when the strategy has no hooks', () => {
    const plan = planFanout(new SynczStrategy(), request('istio.io/debug/syncz'), replicas, budget, undefined);
    expect(names(plan.instances)).toEqual(['istiod-a', 'istiod-b', 'istiod-c']);
    expect(plan.timeoutMs).toBe(3000);
  });

  it('sends a pprof profile to the first replica only, with its run time plus a margin, capped at LONG_DEBUG_TIMEOUT_MS', () => {
    const debug = new InternalDebugStrategy();
    const profile = planFanout(debug, request('istio.io/debug', ['pprof/profile?seconds=30']), replicas, budget, undefined);
    expect(names(profile.instances)).toEqual(['istiod-a']);
    expect(profile.timeoutMs).toBe(30_000 + PROFILE_MARGIN_MS);
    const long = planFanout(debug, request('istio.io/debug', ['pprof/profile?seconds=600']), replicas, budget, undefined);
    expect(long.timeoutMs).toBe(60_000);
    const withCallerDeadline = planFanout(debug, request('istio.io/debug', ['pprof/profile']), replicas, budget, new Date(NOW + 8_000));
    expect(withCallerDeadline.timeoutMs).toBe(7_750);
  });

  it('keeps pod-name order, ignores instances it did not offer, and asks everyone when a hook selects none', () => {
    const pick = (chosen: (offered: readonly IstiodInstance[]) => readonly IstiodInstance[]) =>
      names(
        planFanout(
          strategyWith({ selectInstances: (_r: DiscoveryRequest, offered) => chosen(offered) }),
          request('x'),
          replicas,
          budget,
          undefined,
        ).instances,
      );
    expect(pick((offered) => [offered[2], offered[0]])).toEqual(['istiod-a', 'istiod-c']);
    expect(pick(() => [instance('stranger')])).toEqual(['istiod-a', 'istiod-b', 'istiod-c']);
    expect(pick(() => [])).toEqual(['istiod-a', 'istiod-b', 'istiod-c']);
  });

  it('asks the caller’s own request unless upstreamRequest says otherwise', () => {
    const caller = request('istio.io/debug', ['syncz']);
    expect(planFanout(new SynczStrategy(), caller, replicas, budget, undefined).request).toBe(caller);
    const debug = new InternalDebugStrategy();
    expect(planFanout(debug, caller, replicas, budget, undefined).request).toBe(caller);
    const locate = request('istio.io/debug', ['istioctl-proxy/locate?proxyID=a.ns']);
    expect(planFanout(debug, locate, replicas, budget, undefined).request).toEqual({
      ...locate,
      type_url: 'istio.io/debug/syncz',
      resource_names: [],
    });
  });

  it('takes only type_url, resource_names, version_info and response_nonce from upstreamRequest, and only with a type URL', () => {
    const caller = request('x', ['a']);
    const upstream = (returned: unknown) =>
      planFanout(strategyWith({ upstreamRequest: () => returned as DiscoveryRequest }), caller, replicas, budget, undefined).request;
    const node = { id: 'sidecar~1.2.3.4~evil.ns~ns.svc.cluster.local', metadata: null };
    expect(upstream({ type_url: 'y', resource_names: ['b', 7], version_info: 'v', response_nonce: 'n', node })).toEqual({
      ...caller,
      type_url: 'y',
      resource_names: ['b'],
      version_info: 'v',
      response_nonce: 'n',
    });
    expect(upstream({ type_url: 'y' })).toEqual({ ...caller, type_url: 'y', resource_names: [] });
    expect(upstream(undefined)).toBe(caller);
    expect(upstream({ type_url: '' })).toBe(caller);
    expect(upstream({ resource_names: ['b'] })).toBe(caller);
  });
});
