import { status } from '@grpc/grpc-js';
import { Injectable } from '@nestjs/common';
import { Clock } from '../../common/clock.js';
import { FanoutResult, InstanceError, isAnswer, isError } from './fanout-result.js';

export interface InstanceHealthRecord {
  lastAnswerAt?: string;
  lastLatencyMs?: number;
  lastErrorAt?: string;
  lastError?: string;
}

/** Codes istiod uses to refuse the caller's token or rights: the caller's problem, not the instance's. */
const CALLER_DENIED_CODES: ReadonlySet<number> = new Set([status.PERMISSION_DENIED, status.UNAUTHENTICATED]);

/** istiod refused the caller (PERMISSION_DENIED, UNAUTHENTICATED): it works, the caller may not. */
export function isCallerDenied(result: FanoutResult): result is InstanceError {
  return isError(result) && CALLER_DENIED_CODES.has(result.error.code);
}

/**
 * What each istiod did last time it was asked: for /debug/instances and readiness. A refusal of
 * the caller is neither an answer nor a failure of the instance, so it is not recorded. Records
 * exist only for pods still in discovery (`retain`).
 */
@Injectable()
export class InstanceHealth {
  private readonly records = new Map<string, InstanceHealthRecord>();
  private readonly lastSuccessMs = new Map<string, number>();

  constructor(private readonly clock: Clock) {}

  record(results: FanoutResult[]): void {
    const now = new Date(this.clock.now());
    for (const result of results) {
      if (isCallerDenied(result)) continue;
      const record = this.records.get(result.instance.name) ?? {};
      if (isAnswer(result)) {
        record.lastAnswerAt = now.toISOString();
        record.lastLatencyMs = result.latencyMs;
        this.lastSuccessMs.set(result.instance.name, now.getTime());
      } else if (isError(result)) {
        record.lastErrorAt = now.toISOString();
        record.lastError = `${result.error.reason}: ${result.error.message}`;
      }
      this.records.set(result.instance.name, record);
    }
  }

  markReachable(name: string): void {
    this.lastSuccessMs.set(name, this.clock.now());
  }

  get(name: string): InstanceHealthRecord {
    return this.records.get(name) ?? {};
  }

  /** Last time the instance answered a request or a reachability probe, in ms since epoch. */
  lastSuccess(name: string): number | undefined {
    return this.lastSuccessMs.get(name);
  }

  /** Forgets every instance not named: the pods that left discovery. */
  retain(names: ReadonlySet<string>): void {
    for (const map of [this.records, this.lastSuccessMs]) {
      for (const name of map.keys()) if (!names.has(name)) map.delete(name);
    }
  }
}
