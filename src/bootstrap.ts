import 'reflect-metadata';
import { INestApplication, Logger, LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';
import { AppConfig } from './config/app-config.js';
import { grpcServerOptions } from './grpc-server.options.js';

export interface RunningProxy {
  app: INestApplication;
  config: AppConfig;
  close(): Promise<void>;
}

/** Builds and starts the hybrid app: gRPC ADS on GRPC_PORT, HTTP (health) on HTTP_PORT. */
export async function startProxy(config: AppConfig, logger?: LoggerService | false): Promise<RunningProxy> {
  const app = await NestFactory.create(AppModule.forRoot(config), {
    logger: logger ?? nestLogLevels(config.logLevel),
    abortOnError: false,
  });
  app.connectMicroservice(grpcServerOptions(config), { inheritAppConfig: true });
  try {
    await app.startAllMicroservices();
    await app.listen(config.httpPort, config.httpHost);
  } catch (err) {
    await app.close().catch(() => undefined);
    throw err;
  }
  new Logger('Bootstrap').log(
    `serving ADS on ${config.grpcHost}:${config.grpcPort} (${config.plaintext ? 'plaintext' : 'TLS'}), HTTP on ${config.httpHost}:${config.httpPort}`,
  );
  return { app, config, close: () => app.close() };
}

function nestLogLevels(level: AppConfig['logLevel']): Array<'debug' | 'log' | 'warn' | 'error' | 'fatal'> {
  const order = ['debug', 'log', 'warn', 'error', 'fatal'] as const;
  const from = level === 'info' ? 'log' : level;
  return order.slice(order.indexOf(from));
}
