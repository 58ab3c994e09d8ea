import { ServerCredentials } from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { GrpcOptions, Transport } from '@nestjs/microservices';
import { HealthImplementation } from 'grpc-health-check';
import { onNestGrpcServer } from './adapters/nest-grpc.adapter.js';
import { AppConfig } from './config/app-config.js';
import { servedAdsPackageDefinition } from './common/proto.js';

/** The gRPC transport serving envoy's ADS on GRPC_PORT, with reflection and grpc.health.v1. */
export function grpcServerOptions(config: AppConfig, credentials: ServerCredentials, grpcHealth: HealthImplementation): GrpcOptions {
  const packageDefinition = servedAdsPackageDefinition();
  return {
    transport: Transport.GRPC,
    options: {
      url: `${config.grpcHost.includes(':') ? `[${config.grpcHost}]` : config.grpcHost}:${config.grpcPort}`,
      package: 'envoy.service.discovery.v3',
      packageDefinition,
      credentials,
      maxReceiveMessageLength: config.maxMessageBytes,
      maxSendMessageLength: config.maxMessageBytes,
      onLoadPackageDefinition: onNestGrpcServer((server) => {
        new ReflectionService(packageDefinition).addToServer(server);
        grpcHealth.addToServer(server);
      }),
      // Reap dead istioctl connections: ping idle clients, drop those that do not answer.
      keepalive: { keepaliveTimeMs: config.grpcKeepaliveMs, keepaliveTimeoutMs: 20_000 },
    },
  };
}
