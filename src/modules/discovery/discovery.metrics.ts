import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import { Subscription } from 'rxjs';
import { APP_CONFIG, AppConfig } from '../../config/app-config.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { DiscoveryService } from './discovery.service.js';

/** Keeps istioctl_proxy_istiod_instances{state="ready"} (and, for static lists, "discovered") current. */
@Injectable()
export class DiscoveryMetrics implements OnModuleDestroy {
  private readonly subscription: Subscription;

  constructor(discovery: DiscoveryService, metrics: MetricsService, @Inject(APP_CONFIG) config: AppConfig) {
    this.subscription = discovery.instances$.subscribe((instances) => {
      metrics.instances.set({ state: 'ready' }, instances.length);
      if (config.discovery === 'static') metrics.instances.set({ state: 'discovered' }, instances.length);
    });
  }

  onModuleDestroy(): void {
    this.subscription.unsubscribe();
  }
}
