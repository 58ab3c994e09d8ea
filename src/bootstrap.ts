import 'reflect-metadata';
import { INestApplication, Logger, LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
// The adapter alone: the package's index also loads multer and busboy (file uploads), which the proxy never takes.
import { ExpressAdapter } from '@nestjs/platform-express/adapters/express-adapter.js';
import { HealthImplementation } from 'grpc-health-check';
import { AppModule } from './app.module.js';
import { ADS_SERVICE } from './common/proto.js';
import { AppConfig } from './config/app-config.js';
import { shutdownGracefully } from './adapters/grpc-js.adapter.js';
import { FramePool } from './common/frame-pool.js';
import { grpcTransport } from './grpc-server.options.js';
import { MetricsService } from './modules/metrics/metrics.service.js';
import { LifecycleService } from './modules/lifecycle/lifecycle.service.js';
import { PinoLogger } from './modules/logging/pino-logger.js';
import { createServingCredentials } from './modules/tls/serving-credentials.js';

export interface RunningProxy {
  app: INestApplication;
  config: AppConfig;
  /**
   * SIGTERM behaviour, all within SHUTDOWN_TIMEOUT_MS: readiness 503 at once and new streams refused;
   * in-flight requests finish and their answers are flushed; then GOAWAY on every connection and
   * wait for the clients to close them (an answer sent is read, not cut by a reset); then close.
   */
  shutdown(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Builds and starts the hybrid app: gRPC ADS on GRPC_PORT, HTTP (health, metrics) on HTTP_PORT.
 * `logger`: a Nest logger to use instead of JSON logs on stdout, or false for none (tests).
 */
export async function startProxy(config: AppConfig, logger?: LoggerService | false): Promise<RunningProxy> {
  const appLogger = logger === undefined ? new PinoLogger(config.logLevel) : logger;
  if (appLogger) Logger.overrideLogger(appLogger);
  const serving = await createServingCredentials(
    {
      plaintext: config.plaintext,
      certFile: config.tlsCertFile,
      keyFile: config.tlsKeyFile,
      clientCaFile: config.tlsClientCaFile,
      refreshIntervalMs: config.tlsReloadIntervalMs,
    },
    new Logger('Tls'),
  );
  const grpcHealth = new HealthImplementation({ '': 'NOT_SERVING', [ADS_SERVICE]: 'NOT_SERVING' });
  let poolGauge: ((bytes: number) => void) | undefined; // the metrics exist once the app does
  const framePool = new FramePool(config.answerBufferPoolBytes, (bytes) => poolGauge?.(bytes));
  const grpc = grpcTransport(config, serving.credentials, grpcHealth, framePool);
  let app: INestApplication | undefined;
  try {
    app = await NestFactory.create(AppModule.forRoot(config, grpcHealth), new ExpressAdapter(), { logger: appLogger, abortOnError: false });
    const metrics = app.get(MetricsService);
    poolGauge = (bytes) => metrics.answerBufferPoolBytes.set(bytes);
    app.connectMicroservice({ strategy: grpc }, { inheritAppConfig: true });
    await app.startAllMicroservices();
    await app.listen(config.httpPort, config.httpHost);
  } catch (err) {
    serving.close();
    await app?.close().catch(() => undefined);
    throw err;
  }
  new Logger('Bootstrap').log(
    `serving ADS on ${config.grpcHost}:${config.grpcPort} (${serving.mode === 'plaintext' ? 'plaintext' : `TLS, ${serving.mode}`}), HTTP on ${config.httpHost}:${config.httpPort}`,
  );
  const running = app;
  const close = async () => {
    await running.close();
    serving.close();
  };
  return {
    app: running,
    config,
    close,
    async shutdown() {
      const deadline = Date.now() + config.shutdownTimeoutMs;
      const lifecycle = running.get(LifecycleService);
      lifecycle.beginShutdown();
      const log = new Logger('Shutdown');
      log.log(`draining ${lifecycle.inFlightRequests} in-flight requests (up to ${config.shutdownTimeoutMs} ms)`);
      const drained = await lifecycle.drained(config.shutdownTimeoutMs);
      if (!drained)
        log.warn(`SHUTDOWN_TIMEOUT_MS=${config.shutdownTimeoutMs} reached with ${lifecycle.inFlightRequests} requests in flight`);
      const server = grpc.grpcServer;
      if (server && !(await shutdownGracefully(server, Math.max(0, deadline - Date.now())))) {
        log.warn(`SHUTDOWN_TIMEOUT_MS=${config.shutdownTimeoutMs} reached with client connections still open; closing them`);
      }
      await close();
    },
  };
}
