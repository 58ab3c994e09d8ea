import { randomUUID } from 'node:crypto';
import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import { Observable, defer, map } from 'rxjs';
import { Clock } from '../../common/clock.js';
import { DiscoveryRequest, XdsNode } from '../../common/xds-types.js';
import { APP_CONFIG, AppConfig } from '../../config/app-config.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { AggregateOutcome } from './aggregate-outcome.js';
import { responseBytes } from './answer-budget.js';
import { CallerContext } from './caller-context.js';
import { callerKey } from './caller-key.js';
import { Coalescer, coalescingKey } from './coalescer.js';

/**
 * Identical concurrent requests (type, names, version, node, and the same caller — istiod filters
 * answers per caller, so different callers never share) ride on one fan-out, reused for
 * RESPONSE_CACHE_MS after it completes (at most RESPONSE_CACHE_MAX_BYTES in all). The node is
 * compared by content, whatever order its metadata came in. Each caller that joined a running
 * fan-out or a cached answer gets its own nonce, and is counted; no one else is.
 */
@Injectable()
export class RequestCoalescing implements OnModuleDestroy {
  private readonly coalescer: Coalescer<AggregateOutcome>;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    clock: Clock,
    private readonly metrics: MetricsService,
  ) {
    this.coalescer = new Coalescer<AggregateOutcome>({
      ttlMs: config.responseCacheMs,
      maxBytes: config.responseCacheMaxBytes,
      now: () => clock.now(),
      sizeOf: (outcome) => responseBytes(outcome.response),
      onSize: (bytes) => metrics.responseCacheBytes.set(bytes),
    });
  }

  share(
    request: DiscoveryRequest,
    node: XdsNode,
    caller: CallerContext,
    work: () => Observable<AggregateOutcome>,
  ): Observable<AggregateOutcome> {
    const key = coalescingKey([request.type_url, request.resource_names, request.version_info, node, callerKey(caller)]);
    return defer(() => {
      let joined = false;
      const onJoin = () => {
        joined = true;
        this.metrics.coalesced.inc({ type_url: this.metrics.typeUrls.label(request.type_url) });
      };
      return this.coalescer
        .run(key, work, onJoin)
        .pipe(
          map((outcome) => (joined ? { ...outcome, coalesced: true, response: { ...outcome.response, nonce: randomUUID() } } : outcome)),
        );
    });
  }

  onModuleDestroy(): void {
    this.coalescer.close();
  }
}
