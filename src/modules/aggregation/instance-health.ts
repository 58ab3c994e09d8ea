import { Injectable } from '@nestjs/common';
import { Clock } from '../../common/clock.js';
import { FanoutResult, isAnswer, isError } from './fanout-result.js';

export interface InstanceHealthRecord {
  lastAnswerAt?: string;
  lastLatencyMs?: number;
  lastErrorAt?: string;
  lastError?: string;
}

/** What each istiod did last time it was asked: for /debug/instances and readiness. */
@Injectable()
export class InstanceHealth {
  private readonly records = new Map<string, InstanceHealthRecord>();
  private readonly lastSuccessMs = new Map<string, number>();

  constructor(private readonly clock: Clock) {}

  record(results: FanoutResult[]): void {
    const now = new Date(this.clock.now());
    for (const result of results) {
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
}
