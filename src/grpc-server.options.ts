import { readFileSync } from 'node:fs';
import { ServerCredentials } from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { GrpcOptions, Transport } from '@nestjs/microservices';
import { AppConfig } from './config/app-config.js';
import { ConfigError } from './config/config.error.js';
import { ADS_PROTO, PROTO_LOADER_OPTIONS } from './common/proto.js';

/** The gRPC transport serving envoy's ADS on GRPC_PORT, with reflection for grpcurl users. */
export function grpcServerOptions(config: AppConfig): GrpcOptions {
  return {
    transport: Transport.GRPC,
    options: {
      url: `${config.grpcHost.includes(':') ? `[${config.grpcHost}]` : config.grpcHost}:${config.grpcPort}`,
      package: 'envoy.service.discovery.v3',
      protoPath: ADS_PROTO,
      loader: PROTO_LOADER_OPTIONS,
      credentials: serverCredentials(config),
      maxReceiveMessageLength: config.maxMessageBytes,
      maxSendMessageLength: config.maxMessageBytes,
      onLoadPackageDefinition: (pkg, server) => new ReflectionService(pkg).addToServer(server),
    },
  };
}

function serverCredentials(config: AppConfig): ServerCredentials {
  if (config.plaintext) return ServerCredentials.createInsecure();
  const certChain = readPem('TLS_CERT_FILE', config.tlsCertFile!);
  const privateKey = readPem('TLS_KEY_FILE', config.tlsKeyFile!);
  try {
    return ServerCredentials.createSsl(null, [{ cert_chain: certChain, private_key: privateKey }], false);
  } catch (err) {
    throw new ConfigError('TLS_CERT_FILE/TLS_KEY_FILE', `do not form a valid certificate and key pair: ${(err as Error).message}`);
  }
}

function readPem(variable: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError(variable, `=${path} cannot be read: ${(err as Error).message}`);
  }
}
