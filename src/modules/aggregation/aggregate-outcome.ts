import { DiscoveryResponse } from '../../common/xds-types.js';
import { FanoutResult, InstanceError, isAnswer, isError } from './fanout-result.js';

export interface FanoutStats {
  asked: number;
  answered: string[];
  failed: string[];
  skipped: number;
}

/** What one aggregated request produced: the merged response and how the fan-out went. */
export interface AggregateOutcome {
  response: DiscoveryResponse;
  missing: InstanceError[];
  stats: FanoutStats;
  /** True when this caller joined an identical in-flight (or cached) fan-out. */
  coalesced: boolean;
}

export function statsOf(results: FanoutResult[]): FanoutStats {
  return {
    asked: results.length,
    answered: results.filter(isAnswer).map((r) => r.instance.name),
    failed: results.filter(isError).map((r) => r.instance.name),
    skipped: results.filter((r) => 'skipped' in r).length,
  };
}
