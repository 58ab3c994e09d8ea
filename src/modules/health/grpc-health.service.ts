import { Inject, Injectable, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { HealthImplementation } from 'grpc-health-check';
import { Subscription, merge } from 'rxjs';
import { ADS_SERVICE } from '../../common/proto.js';
import { DiscoveryService } from '../discovery/discovery.service.js';
import { LifecycleService } from '../lifecycle/lifecycle.service.js';
import { ReadinessService } from './readiness.service.js';

export const GRPC_HEALTH = Symbol('GRPC_HEALTH');

/** Keeps grpc.health.v1.Health (overall "" and the ADS service) in step with readiness. */
@Injectable()
export class GrpcHealthService implements OnApplicationBootstrap, OnModuleDestroy {
  private subscription?: Subscription;

  constructor(
    @Inject(GRPC_HEALTH) private readonly health: HealthImplementation,
    private readonly readiness: ReadinessService,
    private readonly discovery: DiscoveryService,
    private readonly lifecycle: LifecycleService,
  ) {}

  onApplicationBootstrap(): void {
    this.subscription = merge(this.discovery.instances$, this.lifecycle.shuttingDown$).subscribe(() => this.update());
    this.update();
  }

  onModuleDestroy(): void {
    this.subscription?.unsubscribe();
  }

  private update(): void {
    const status = this.readiness.isReady() ? 'SERVING' : 'NOT_SERVING';
    this.health.setStatus('', status);
    this.health.setStatus(ADS_SERVICE, status);
  }
}
