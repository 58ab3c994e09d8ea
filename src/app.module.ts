import { DynamicModule, Module } from '@nestjs/common';
import { AppConfig } from './config/app-config.js';
import { ConfigModule } from './config/config.module.js';
import { AggregationModule } from './modules/aggregation/aggregation.module.js';
import { DiscoveryModule } from './modules/discovery/discovery.module.js';
import { HealthModule } from './modules/health/health.module.js';

@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [ConfigModule.forRoot(config), DiscoveryModule, AggregationModule, HealthModule],
    };
  }
}
