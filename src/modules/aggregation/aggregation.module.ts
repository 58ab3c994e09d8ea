import { Module } from '@nestjs/common';
import { DiscoveryModule as NestDiscoveryModule } from '@nestjs/core';
import { AuthModule } from '../auth/auth.module.js';
import { DiscoveryModule } from '../discovery/discovery.module.js';
import { AdsStreamService } from './ads-stream.service.js';
import { AdsController } from './ads.controller.js';
import { AggregationService } from './aggregation.service.js';
import { AnswerMemory } from './answer-memory.js';
import { BoundedLabels } from './bounded-labels.js';
import { DeadlineBudget } from './deadline-budget.js';
import { FanoutMetrics } from './fanout-metrics.js';
import { FanoutService } from './fanout.service.js';
import { InstanceHealth } from './instance-health.js';
import { IstiodClientPool, UpstreamCaller } from './istiod.client.js';
import { BUILT_IN_STRATEGIES } from './merge/built-in-strategies.js';
import { StrategyRegistry } from './merge/strategy-registry.js';
import { PartialResultPolicy } from './partial-result.policy.js';
import { RequestCoalescing } from './request-coalescing.js';
import { RequestLog } from './request-log.js';
import { ResponseEnvelope } from './response-envelope.js';
import { streamLimitsProviders } from './stream-limits.js';
import { UpstreamCredentials } from './upstream-credentials.js';

@Module({
  imports: [DiscoveryModule, AuthModule, NestDiscoveryModule],
  controllers: [AdsController],
  providers: [
    AdsStreamService,
    ...streamLimitsProviders,
    RequestLog,
    ResponseEnvelope,
    AggregationService,
    RequestCoalescing,
    DeadlineBudget,
    PartialResultPolicy,
    FanoutMetrics,
    AnswerMemory,
    BoundedLabels,
    FanoutService,
    InstanceHealth,
    UpstreamCredentials,
    IstiodClientPool,
    { provide: UpstreamCaller, useExisting: IstiodClientPool },
    StrategyRegistry,
    ...BUILT_IN_STRATEGIES,
  ],
  exports: [IstiodClientPool, StrategyRegistry, InstanceHealth, AdsStreamService],
})
export class AggregationModule {}
