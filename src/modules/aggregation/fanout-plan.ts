import { DiscoveryRequest } from '../../common/xds-types.js';
import { IstiodInstance } from '../discovery/istiod-instance.js';
import { DeadlineBudget } from './deadline-budget.js';
import { MergeStrategy } from './merge/merge-strategy.js';

/** Which istiods one request goes to, what they are asked, and how long each may take. */
export interface FanoutPlan {
  instances: IstiodInstance[];
  timeoutMs: number;
  /** What each istiod receives (the stream's node is set by the caller of planFanout). */
  request: DiscoveryRequest;
}

/**
 * Every ready istiod, asked the caller's request within FANOUT_TIMEOUT_MS, unless the strategy's
 * optional hooks say otherwise (`selectInstances`, `timeoutMs`: a profile goes to one replica and
 * may run for its `seconds`; `upstreamRequest`: the proxy's own debug paths ask syncz). What a hook
 * returns is bounded here: only instances that were offered, in pod-name order, never none; a
 * deadline capped by the DeadlineBudget; an upstream request that changes only `type_url`,
 * `resource_names`, `version_info` and `response_nonce`, and only when it names a type URL.
 */
export function planFanout(
  strategy: MergeStrategy,
  request: DiscoveryRequest,
  instances: IstiodInstance[],
  budget: DeadlineBudget,
  callerDeadline: Date | undefined,
): FanoutPlan {
  const requestedMs = strategy.timeoutMs?.(request, budget.limits());
  return {
    instances: selectInstances(strategy, request, instances),
    timeoutMs: budget.timeoutFor(callerDeadline, requestedMs),
    request: upstreamRequest(strategy, request),
  };
}

function upstreamRequest(strategy: MergeStrategy, request: DiscoveryRequest): DiscoveryRequest {
  const upstream: Partial<DiscoveryRequest> | undefined = strategy.upstreamRequest?.(request);
  if (!upstream || upstream === request || typeof upstream.type_url !== 'string' || upstream.type_url === '') return request;
  const names = Array.isArray(upstream.resource_names) ? upstream.resource_names.filter((name) => typeof name === 'string') : [];
  return {
    ...request,
    type_url: upstream.type_url,
    resource_names: names,
    version_info: typeof upstream.version_info === 'string' ? upstream.version_info : request.version_info,
    response_nonce: typeof upstream.response_nonce === 'string' ? upstream.response_nonce : request.response_nonce,
  };
}

function selectInstances(strategy: MergeStrategy, request: DiscoveryRequest, instances: IstiodInstance[]): IstiodInstance[] {
  if (!strategy.selectInstances) return instances;
  const wanted = new Set(strategy.selectInstances(request, instances).map((instance) => instance.name));
  const chosen = instances.filter((instance) => wanted.has(instance.name));
  return chosen.length > 0 ? chosen : instances;
}
