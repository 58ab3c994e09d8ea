import { DiscoveryRequest } from '../../common/xds-types.js';
import { IstiodInstance } from '../discovery/istiod-instance.js';
import { DeadlineBudget } from './deadline-budget.js';
import { MergeStrategy } from './merge/merge-strategy.js';

/** Which istiods one request goes to, and how long each may take. */
export interface FanoutPlan {
  instances: IstiodInstance[];
  timeoutMs: number;
}

/**
 * Every ready istiod within FANOUT_TIMEOUT_MS, unless the strategy's optional hooks say otherwise
 * (`selectInstances`, `timeoutMs`: a profile goes to one replica and may run for its `seconds`).
 * What a hook returns is bounded here: only instances that were offered, in pod-name order, never
 * none; a deadline capped by the DeadlineBudget.
 */
export function planFanout(
  strategy: MergeStrategy,
  request: DiscoveryRequest,
  instances: IstiodInstance[],
  budget: DeadlineBudget,
  callerDeadline: Date | undefined,
): FanoutPlan {
  const requestedMs = strategy.timeoutMs?.(request, budget.limits());
  return { instances: selectInstances(strategy, request, instances), timeoutMs: budget.timeoutFor(callerDeadline, requestedMs) };
}

function selectInstances(strategy: MergeStrategy, request: DiscoveryRequest, instances: IstiodInstance[]): IstiodInstance[] {
  if (!strategy.selectInstances) return instances;
  const wanted = new Set(strategy.selectInstances(request, instances).map((instance) => instance.name));
  const chosen = instances.filter((instance) => wanted.has(instance.name));
  return chosen.length > 0 ? chosen : instances;
}
