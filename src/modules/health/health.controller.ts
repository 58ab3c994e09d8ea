import { Controller, Get, Inject } from '@nestjs/common';
import { HealthCheck, HealthCheckResult, HealthCheckService, HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { APP_CONFIG, AppConfig } from '../../config/app-config.js';
import { CheckResult, INDICATOR_TIMEOUT_MS, ReadinessService } from './readiness.service.js';

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
      () => this.indicate('shutdown', async () => this.readiness.shutdown()),
      () => this.indicate('discovery', async () => this.readiness.discoveryState()),
      () => this.indicate('auth', async () => this.readiness.auth()),
    ];
    if (this.config.readyRequiresReachable) checks.push(() => this.indicate('istiod', () => this.readiness.reachability()));
    return this.health.check(checks);
  }

  /** Each indicator has its own timeout and reports down rather than throwing. */
  private async indicate(key: string, check: () => Promise<CheckResult>): Promise<HealthIndicatorResult> {
    const session = this.indicators.check(key);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<CheckResult>((resolve) => {
      timer = setTimeout(
        () => resolve({ up: false, details: { reason: `check timed out after ${INDICATOR_TIMEOUT_MS} ms` } }),
        INDICATOR_TIMEOUT_MS + 500,
      );
    });
    const result = await Promise.race([check().catch((err: Error) => ({ up: false, details: { reason: err.message } })), timedOut]);
    clearTimeout(timer);
    return result.up ? session.up(result.details) : session.down(result.details);
  }
}
