import { Controller, Get, Inject } from '@nestjs/common';
import { HealthCheck, HealthCheckResult, HealthCheckService, HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { APP_CONFIG, AppConfig } from '../../config/app-config.js';
import { CheckResult, INDICATOR_TIMEOUT_MS, ReadinessService } from './readiness.service.js';
import { withTimeout } from '../../common/with-timeout.js';

/** How long readyz waits for one indicator: probes inside get INDICATOR_TIMEOUT_MS, plus a margin to report their own outcome. */
export const INDICATOR_DEADLINE_MS = INDICATOR_TIMEOUT_MS + 500;

@Controller()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly readiness: ReadinessService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Liveness: the process and its event loop answer; never depends on istiod or Kubernetes. */
  @Get('healthz')
  @HealthCheck()
  healthz(): Promise<HealthCheckResult> {
    return this.health.check([() => this.indicators.check('process').up({ uptimeSeconds: Math.round(process.uptime()) })]);
  }

  /** Readiness: 503 with a JSON body naming what is missing. */
  @Get('readyz')
  @HealthCheck()
  readyz(): Promise<HealthCheckResult> {
    const checks = [
      () => this.indicate('shutdown', () => this.readiness.shutdown()),
      () => this.indicate('discovery', () => this.readiness.discoveryState()),
      () => this.indicate('auth', () => this.readiness.auth()),
    ];
    if (this.config.readyRequiresReachable) checks.push(() => this.indicate('istiod', () => this.readiness.reachability()));
    return this.health.check(checks);
  }

  /** Each indicator has its own timeout and reports down rather than throwing. */
  private async indicate(key: string, check: () => CheckResult | Promise<CheckResult>): Promise<HealthIndicatorResult> {
    const session = this.indicators.check(key);
    const result = await settleWithin(check, INDICATOR_DEADLINE_MS);
    return result.up ? session.up(result.details) : session.down(result.details);
  }
}

/** The check's result; down when it throws, rejects, or has not settled within `timeoutMs`. */
function settleWithin(check: () => CheckResult | Promise<CheckResult>, timeoutMs: number): Promise<CheckResult> {
  const settled = Promise.resolve()
    .then(check)
    .catch((err: unknown) => down(err instanceof Error ? err.message : String(err)));
  return withTimeout(settled, timeoutMs, () => down(`check timed out after ${timeoutMs} ms`));
}

function down(reason: string): CheckResult {
  return { up: false, details: { reason } };
}
