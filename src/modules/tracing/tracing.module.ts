import { FactoryProvider, Global, Module } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../../config/app-config.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { createTracingBackend } from './tracing-backend.js';
import { Tracing } from './tracing.js';

const tracingProvider: FactoryProvider<Promise<Tracing>> = {
  provide: Tracing,
  inject: [APP_CONFIG, MetricsService],
  useFactory: async (config: AppConfig, metrics: MetricsService) =>
    new Tracing(await createTracingBackend(config.tracing), (typeUrl) => metrics.typeUrls.label(typeUrl)),
};

/** OpenTelemetry spans (OTEL_* variables); global like metrics, so the guard and the aggregation can use it. */
@Global()
@Module({ providers: [tracingProvider], exports: [Tracing] })
export class TracingModule {}
