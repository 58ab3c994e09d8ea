import { DiscoveryResponse } from '../../common/xds-types.js';
import { IstiodInstance } from '../discovery/istiod-instance.js';

/** Why one istiod did not contribute: a gRPC status code and a human reason. */
export interface InstanceFailure {
  code: number;
  message: string;
  /** Short classification for logs/metrics: timeout, unavailable, unauthenticated, cancelled... */
  reason: string;
}

export interface InstanceAnswer {
  instance: IstiodInstance;
  response: DiscoveryResponse;
  /** 0 for the first answer to arrive, 1 for the next... (config_dump picks by arrival). */
  arrival: number;
  latencyMs: number;
}

export interface InstanceError {
  instance: IstiodInstance;
  error: InstanceFailure;
  latencyMs: number;
}

/** Asked, but not needed any more: another instance already gave a conclusive answer. */
export interface InstanceSkipped {
  instance: IstiodInstance;
  skipped: true;
}

/** Per-instance outcome of a fan-out: failures are values, so one bad istiod never hides the others. */
export type FanoutResult = InstanceAnswer | InstanceError | InstanceSkipped;

export function isAnswer(result: FanoutResult): result is InstanceAnswer {
  return 'response' in result;
}

export function isError(result: FanoutResult): result is InstanceError {
  return 'error' in result;
}
