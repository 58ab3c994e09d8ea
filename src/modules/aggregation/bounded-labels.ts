import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { Subscription } from 'rxjs';
import { DiscoveryService } from '../discovery/discovery.service.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { FanoutMetrics } from './fanout-metrics.js';
import { StrategyRegistry } from './merge/strategy-registry.js';
import { ResponseEnvelope } from './response-envelope.js';

/**
 * Keeps everything the proxy holds per label value bounded by what exists. Type URLs: the known ones
 * and those merge plugins name exactly keep their label, any other is `other`. Instances: when a pod
 * leaves discovery, its metric series, health record and remembered control plane go with it (pod
 * names change on every rollout, so otherwise they would pile up for the life of the process).
 */
@Injectable()
export class BoundedLabels implements OnModuleDestroy {
  private readonly subscription: Subscription;

  constructor(
    discovery: DiscoveryService,
    metrics: MetricsService,
    registry: StrategyRegistry,
    fanoutMetrics: FanoutMetrics,
    envelope: ResponseEnvelope,
  ) {
    metrics.typeUrls.acceptPluginTypeUrls((typeUrl) => namedExactly(registry, typeUrl));
    this.subscription = discovery.instances$.subscribe((instances) => {
      const names = new Set(instances.map((instance) => instance.name));
      fanoutMetrics.retain(names);
      envelope.retain(names);
    });
  }

  onModuleDestroy(): void {
    this.subscription.unsubscribe();
  }
}

/** Whether the strategy for `typeUrl` is a plugin whose `typeUrl` is that very string (not a pattern). */
function namedExactly(registry: StrategyRegistry, typeUrl: string): boolean {
  const { typeUrl: claimed } = registry.resolve(typeUrl) as { typeUrl?: unknown };
  return typeof claimed === 'string' && claimed === typeUrl;
}
