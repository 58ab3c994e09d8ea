import { ServerCredentials } from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { GrpcOptions, Transport } from '@nestjs/microservices';
import { HealthImplementation } from 'grpc-health-check';
import { AppConfig } from './config/app-config.js';
import { ADS_PROTO, PROTO_LOADER_OPTIONS, useFastResponseEncoder } from './common/proto.js';

/** The gRPC transport serving envoy's ADS on GRPC_PORT, with reflection and grpc.health.v1. */
export function grpcServerOptions(config: AppConfig, credentials: ServerCredentials, grpcHealth: HealthImplementation): GrpcOptions {
  return {
    transport: Transport.GRPC,
    options: {
      url: `${config.grpcHost.includes(':') ? `[${config.grpcHost}]` : config.grpcHost}:${config.grpcPort}`,
      package: 'envoy.service.discovery.v3',
      protoPath: ADS_PROTO,
      loader: PROTO_LOADER_OPTIONS,
      credentials,
      maxReceiveMessageLength: config.maxMessageBytes,
      maxSendMessageLength: config.maxMessageBytes,
      onLoadPackageDefinition: (pkg, server) => {
        // Merged answers are forwarded istiod payloads: encode them without a second object tree.
        useFastResponseEncoder(pkg);
        new ReflectionService(pkg).addToServer(server);
        grpcHealth.addToServer(server);
      },
      // Reap dead istioctl connections: ping idle clients, drop those that do not answer.
      keepalive: { keepaliveTimeMs: config.grpcKeepaliveMs, keepaliveTimeoutMs: 20_000 },
    },
  };
}
