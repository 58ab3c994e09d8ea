import { DynamicModule, Module } from '@nestjs/common';
import { HealthImplementation } from 'grpc-health-check';
import { AppConfig } from './config/app-config.js';
import { ConfigModule } from './config/config.module.js';
import { AggregationModule } from './modules/aggregation/aggregation.module.js';
import { DiscoveryModule } from './modules/discovery/discovery.module.js';
import { HealthModule } from './modules/health/health.module.js';
import { LifecycleModule } from './modules/lifecycle/lifecycle.module.js';
import { MetricsModule } from './modules/metrics/metrics.module.js';
import { TracingModule } from './modules/tracing/tracing.module.js';

@Module({})
export class AppModule {
  static forRoot(config: AppConfig, grpcHealth: HealthImplementation): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        LifecycleModule,
        MetricsModule,
        TracingModule,
        DiscoveryModule,
        AggregationModule,
        HealthModule.forRoot(grpcHealth),
      ],
    };
  }
}
