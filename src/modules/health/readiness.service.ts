import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '../../common/clock.js';
import { APP_CONFIG, AppConfig } from '../../config/app-config.js';
import { IstiodClientPool } from '../aggregation/istiod.client.js';
import { InstanceHealth } from '../aggregation/instance-health.js';
import { TokenVerifier } from '../auth/token-verifier.js';
import { DiscoveryService } from '../discovery/discovery.service.js';
import { LifecycleService } from '../lifecycle/lifecycle.service.js';

export interface CheckResult {
  up: boolean;
  details: Record<string, unknown>;
}

/** How long one readiness indicator may take before it reports down instead of hanging the probe. */
export const INDICATOR_TIMEOUT_MS = 2_000;

/** The readiness indicators behind /readyz and the gRPC health service. */
@Injectable()
export class ReadinessService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly discovery: DiscoveryService,
    private readonly lifecycle: LifecycleService,
    private readonly health: InstanceHealth,
    private readonly pool: IstiodClientPool,
    private readonly verifier: TokenVerifier,
    private readonly clock: Clock,
  ) {}

  shutdown(): CheckResult {
    return { up: !this.lifecycle.isShuttingDown, details: this.lifecycle.isShuttingDown ? { reason: 'shutting down' } : {} };
  }

  discoveryState(): CheckResult {
    const ready = this.discovery.snapshot().length;
    if (!this.discovery.synced)
      return { up: false, details: { reason: `discovery has not synced yet (${this.discovery.describeScope()})` } };
    if (ready === 0) return { up: false, details: { reason: `no ready istiod instance in ${this.discovery.describeScope()}`, ready } };
    return { up: true, details: { ready } };
  }

  /** READY_REQUIRES_REACHABLE: some istiod answered a request or a connection probe within the window. */
  async reachability(): Promise<CheckResult> {
    const instances = this.discovery.snapshot();
    const since = this.clock.now() - this.config.reachableWindowMs;
    const recent = instances.filter((i) => (this.health.lastSuccess(i.name) ?? 0) >= since).map((i) => i.name);
    if (recent.length > 0) return { up: true, details: { reachable: recent } };
    const probes = await Promise.all(instances.map(async (i) => ((await this.pool.probe(i, INDICATOR_TIMEOUT_MS)) ? i.name : undefined)));
    const reachable = probes.filter((name): name is string => !!name);
    for (const name of reachable) this.health.markReachable(name);
    return reachable.length > 0
      ? { up: true, details: { reachable } }
      : { up: false, details: { reason: `no istiod answered within ${this.config.reachableWindowMs} ms nor a connection probe` } };
  }

  auth(): CheckResult {
    // Always up: AUTH_MODE=none is allowed, but it must be visible where operators look.
    return this.verifier.mode === 'none'
      ? { up: true, details: { mode: 'none', warning: 'AUTH_MODE=none: callers are not authenticated by the proxy' } }
      : { up: true, details: { mode: this.verifier.mode } };
  }

  /** Overall readiness, as the gRPC health service reports it. */
  isReady(): boolean {
    return this.shutdown().up && this.discoveryState().up;
  }
}
