import { ServerCredentials, makeGenericClientConstructor, type ServiceClientConstructor, type ServiceDefinition } from '@grpc/grpc-js';
import type { PackageDefinition, ServiceDefinition as LoadedServiceDefinition } from '@grpc/proto-loader';
import type { SecureServerOptions } from 'node:http2';
import type { SecureContextOptions } from 'node:tls';

/*
 * The one place that leans on @grpc/grpc-js beyond calling it as documented: codecs swapped into
 * method definitions and a ServerCredentials subclass. grpc-js.adapter.spec.ts pins every behaviour
 * relied on here against the real library, so an upgrade that changes one fails a test.
 */

/**
 * A copy of `definition` (grpc-js form, as @grpc/proto-loader loads it) whose `method` of `service`
 * serializes responses with `serialize`. grpc-js servers encode with the method definition's
 * `responseSerialize`, whether the service comes from loadPackageDefinition or is added directly.
 */
export function withResponseSerializer<Response>(
  definition: PackageDefinition,
  service: string,
  method: string,
  serialize: (value: Response) => Buffer,
): PackageDefinition {
  const methods = serviceIn(definition, service);
  const target = methods[method];
  if (!target) throw new Error(`${service} has no method ${method}`);
  const responseSerialize = serialize as (value: object) => Buffer;
  return { ...definition, [service]: { ...methods, [method]: { ...target, responseSerialize } } };
}

/**
 * A generic grpc-js client for `service` whose `method` decodes responses with `deserialize`
 * instead of the codec the definition was loaded with.
 */
export function withResponseDeserializer<Response>(
  service: ServiceDefinition,
  serviceName: string,
  method: string,
  deserialize: (bytes: Buffer) => Response,
): ServiceClientConstructor {
  const target = service[method];
  if (!target) throw new Error(`${serviceName} has no method ${method}`);
  return makeGenericClientConstructor({ ...service, [method]: { ...target, responseDeserialize: deserialize } }, serviceName);
}

function serviceIn(definition: PackageDefinition, service: string): LoadedServiceDefinition {
  const found = definition[service];
  if (!found || 'format' in found) throw new Error(`${service} is not a service of the package definition`);
  return found;
}

/**
 * TLS server credentials whose certificate can be swapped while serving. grpc-js registers a watcher
 * per listening socket and calls `setSecureContext` with what we pass, which changes the certificate
 * for new handshakes only: established connections and their streams keep the context they started with.
 *
 * grpc-js's own FileWatcherCertificateProvider is not used because it publishes `null` whenever a read
 * fails and grpc-js then drops every new connection until the files are good again; it also cannot
 * validate at startup and serves nothing until its first asynchronous read completes.
 */
export class ReloadableServerCredentials extends ServerCredentials {
  constructor(serverOptions: SecureServerOptions, initial: SecureContextOptions) {
    super(serverOptions, initial);
  }

  /** Callers must pass only options already validated: grpc-js treats a failure here as "refuse everyone". */
  replace(options: SecureContextOptions): void {
    this.updateSecureContextOptions(options);
  }

  /** grpc-js asks this when a port is bound twice; only the very same credentials are equal. */
  override _equals(other: ServerCredentials): boolean {
    return this === other;
  }
}
