import { DynamicModule, Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { HealthImplementation } from 'grpc-health-check';
import { AggregationModule } from '../aggregation/aggregation.module.js';
import { AuthModule } from '../auth/auth.module.js';
import { DiscoveryModule } from '../discovery/discovery.module.js';
import { DebugController } from './debug.controller.js';
import { GRPC_HEALTH, GrpcHealthService } from './grpc-health.service.js';
import { HealthController } from './health.controller.js';
import { ReadinessService } from './readiness.service.js';

@Module({})
export class HealthModule {
  /** `grpcHealth` is the grpc.health.v1 implementation registered on the gRPC server at start. */
  static forRoot(grpcHealth: HealthImplementation): DynamicModule {
    return {
      module: HealthModule,
      imports: [TerminusModule.forRoot({ logger: false }), DiscoveryModule, AggregationModule, AuthModule],
      controllers: [HealthController, DebugController],
      providers: [ReadinessService, GrpcHealthService, { provide: GRPC_HEALTH, useValue: grpcHealth }],
    };
  }
}
