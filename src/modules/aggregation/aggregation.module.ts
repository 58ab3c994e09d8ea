import { Module } from '@nestjs/common';
import { DiscoveryModule as NestDiscoveryModule } from '@nestjs/core';
import { AuthModule } from '../auth/auth.module.js';
import { DiscoveryModule } from '../discovery/discovery.module.js';
import { AdsStreamService } from './ads-stream.service.js';
import { AdsController } from './ads.controller.js';
import { AggregationService } from './aggregation.service.js';
import { FanoutService } from './fanout.service.js';
import { InstanceHealth } from './instance-health.js';
import { IstiodClientPool, UpstreamCaller } from './istiod.client.js';
import { ConfigDumpStrategy } from './merge/config-dump.strategy.js';
import { ConnectionsStrategy } from './merge/connections.strategy.js';
import { InternalDebugStrategy } from './merge/internal-debug.strategy.js';
import { StrategyRegistry } from './merge/strategy-registry.js';
import { RequestLog } from './request-log.js';
import { ResponseEnvelope } from './response-envelope.js';
import { SynczStrategy } from './merge/syncz.strategy.js';
import { UpstreamCredentials } from './upstream-credentials.js';

@Module({
  imports: [DiscoveryModule, AuthModule, NestDiscoveryModule],
  controllers: [AdsController],
  providers: [
    AdsStreamService,
    RequestLog,
    ResponseEnvelope,
    AggregationService,
    FanoutService,
    InstanceHealth,
    UpstreamCredentials,
    IstiodClientPool,
    { provide: UpstreamCaller, useExisting: IstiodClientPool },
    StrategyRegistry,
    SynczStrategy,
    ConfigDumpStrategy,
    InternalDebugStrategy,
    ConnectionsStrategy,
  ],
  exports: [IstiodClientPool, StrategyRegistry, InstanceHealth, AdsStreamService],
})
export class AggregationModule {}
