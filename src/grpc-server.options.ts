import { ServerCredentials, type ServerOptions } from '@grpc/grpc-js';
import { Logger } from '@nestjs/common';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation } from 'grpc-health-check';
import { createServerWithResetLimit, oneRequestAtATime, withResponseSerializer } from './adapters/grpc-js.adapter.js';
import { sendPreframedResponses } from './adapters/grpc-js-framing.adapter.js';
import { NestGrpcTransport, onNestGrpcServer } from './adapters/nest-grpc.adapter.js';
import { AppConfig } from './config/app-config.js';
import { encodeDiscoveryResponse } from './common/discovery-response.codec.js';
import { FramePool } from './common/frame-pool.js';
import { ADS_METHOD, ADS_METHOD_FULL_NAME, ADS_SERVICE, adsPackageDefinition } from './common/proto.js';
import { DiscoveryResponse } from './common/xds-types.js';

/** Where grpc-js dispatches istioctl's stream. */
export const ADS_STREAM_PATH = `/${ADS_METHOD_FULL_NAME}`;

/** How long an istioctl connection may go without answering a keepalive ping before it is dropped. */
const KEEPALIVE_TIMEOUT_MS = 20_000;

/** The gRPC transport serving envoy's ADS on GRPC_PORT, with reflection and grpc.health.v1. */
export function grpcTransport(
  config: AppConfig,
  credentials: ServerCredentials,
  grpcHealth: HealthImplementation,
  framePool: FramePool,
): NestGrpcTransport {
  // Merged answers are mostly forwarded istiod payloads: encoded once, straight into their gRPC frame
  // (a reused buffer for large ones), and sent without grpc-js's framing copy.
  const packageDefinition = withResponseSerializer(adsPackageDefinition(), ADS_SERVICE, ADS_METHOD, (response: DiscoveryResponse) =>
    encodeDiscoveryResponse(response, (size) => framePool.acquire(size)),
  );
  const serverOptions: ServerOptions = {
    // Requests (istioctl's are < 1 KiB) and answers have separate limits; grpc-js refuses a request
    // from its length prefix alone, before buffering it.
    'grpc.max_receive_message_length': config.maxRequestBytes,
    'grpc.max_send_message_length': config.maxMessageBytes,
    // Reap dead istioctl connections: ping idle clients, drop those that do not answer.
    'grpc.keepalive_time_ms': config.grpcKeepaliveMs,
    'grpc.keepalive_timeout_ms': KEEPALIVE_TIMEOUT_MS,
    // A slow reader slows only itself: a stream's next request is read once its last answer is flushed.
    // The framing interceptor must come first: it is the one grpc-js hands its own call object.
    interceptors: [
      sendPreframedResponses(
        ADS_STREAM_PATH,
        (frame) => framePool.release(frame),
        (reason) => new Logger('Transport').warn(`answers are framed with a copy (more CPU and memory per answer): ${reason}`),
      ),
      oneRequestAtATime(ADS_STREAM_PATH),
    ],
  };
  return new NestGrpcTransport(
    {
      url: `${config.grpcHost.includes(':') ? `[${config.grpcHost}]` : config.grpcHost}:${config.grpcPort}`,
      package: 'envoy.service.discovery.v3',
      packageDefinition,
      onLoadPackageDefinition: onNestGrpcServer((server) => {
        new ReflectionService(packageDefinition).addToServer(server);
        grpcHealth.addToServer(server);
      }),
    },
    () =>
      createServerWithResetLimit(serverOptions, {
        streamResetBurst: config.http2StreamResetBurst,
        streamResetRate: config.http2StreamResetRate,
      }),
    credentials,
  );
}
