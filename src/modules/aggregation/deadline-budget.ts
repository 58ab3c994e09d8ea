import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '../../common/clock.js';
import { APP_CONFIG, AppConfig } from '../../config/app-config.js';
import { TimeoutLimits } from './merge/merge-strategy.js';

/**
 * How long each istiod may take: FANOUT_TIMEOUT_MS, or what the merge strategy asked for (a
 * profile's run time) up to LONG_DEBUG_TIMEOUT_MS; less when the caller's own deadline is sooner
 * (minus DEADLINE_MARGIN_MS, so the merged answer still reaches the caller in time). Never below
 * 1 ms, so an already-passed deadline fails fast as a timeout instead of hanging.
 */
@Injectable()
export class DeadlineBudget {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  /** What a strategy's `timeoutMs` hook may choose from. */
  limits(): TimeoutLimits {
    return { defaultMs: this.config.fanoutTimeoutMs, maxMs: Math.max(this.config.fanoutTimeoutMs, this.config.longDebugTimeoutMs) };
  }

  timeoutFor(callerDeadline: Date | undefined, requestedMs?: number): number {
    const { defaultMs, maxMs } = this.limits();
    const wanted = requestedMs === undefined || Number.isNaN(requestedMs) ? defaultMs : Math.max(1, Math.min(maxMs, requestedMs));
    if (!callerDeadline || !Number.isFinite(callerDeadline.getTime())) return wanted;
    const callerBudget = callerDeadline.getTime() - this.clock.now() - this.config.deadlineMarginMs;
    return Math.max(1, Math.min(wanted, callerBudget));
  }
}
