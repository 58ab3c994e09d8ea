import {
  Metadata,
  Server,
  ServerCredentials,
  ServerInterceptingCall,
  makeGenericClientConstructor,
  type ServerInterceptor,
  type ServerOptions,
  type ServiceClientConstructor,
  type ServiceDefinition,
} from '@grpc/grpc-js';
import type { PackageDefinition, ServiceDefinition as LoadedServiceDefinition } from '@grpc/proto-loader';
import type { SecureServerOptions, ServerOptions as Http2ServerOptions } from 'node:http2';
import type { SecureContextOptions } from 'node:tls';
import { withTimeout } from '../common/with-timeout.js';

/*
 * The one place that leans on @grpc/grpc-js beyond calling it as documented: codecs swapped into
 * method definitions, a ServerCredentials subclass, node:http2 options grpc-js has no option for,
 * a server interceptor that paces reads, and the shutdown it promises. grpc-js.adapter.spec.ts pins
 * every behaviour relied on here against the real library, so an upgrade that changes one fails a test.
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

/** node:http2's per-connection guard against rapid resets (CVE-2023-44487): a token bucket of incoming RST_STREAMs. */
export interface Http2ResetLimit {
  /** RST_STREAMs a connection may send in a burst. */
  streamResetBurst: number;
  /** RST_STREAMs per second refilled after the burst. */
  streamResetRate: number;
}

/**
 * A grpc-js Server whose HTTP/2 servers also get `resetLimit`. grpc-js creates them at bindAsync from
 * the options it keeps in its private `commonServerOptions` and offers no server option for these
 * two, so they are added there before anything is bound. Past the limit node:http2 closes the whole
 * connection (GOAWAY), which behind a gateway means every caller multiplexed on it.
 */
export function createServerWithResetLimit(options: ServerOptions, resetLimit: Http2ResetLimit): Server {
  const server = new Server(options);
  const internals = server as unknown as { commonServerOptions?: Http2ServerOptions };
  if (typeof internals.commonServerOptions !== 'object' || internals.commonServerOptions === null) {
    throw new Error('@grpc/grpc-js no longer keeps Server.commonServerOptions; see createServerWithResetLimit in grpc-js.adapter.ts');
  }
  internals.commonServerOptions.streamResetBurst = resetLimit.streamResetBurst;
  internals.commonServerOptions.streamResetRate = resetLimit.streamResetRate;
  return server;
}

/** Lets the next request message of a call through to the application. */
export interface RequestGate {
  release(): void;
}

const OPEN_GATE: RequestGate = { release: () => undefined };
const gates = new WeakMap<Metadata, RequestGate>();

/**
 * One message at a time into `methodPath`: after each request message the next one is held, and
 * grpc-js reads nothing further from that stream (it reads a message only when the application's
 * stream asks for one, and it is still waiting for the held one), so HTTP/2 flow control stops the
 * client. `requestGate(call.metadata).release()` lets the next one through. At most one message per
 * stream waits here, already decoded.
 */
export function oneRequestAtATime(methodPath: string): ServerInterceptor {
  return (method, call) => {
    if (method.path !== methodPath) return new ServerInterceptingCall(call);
    const gate = new MessageGate();
    return new ServerInterceptingCall(call, {
      start: (next) =>
        next({
          // The very Metadata object handed on becomes the handler's call.metadata.
          onReceiveMetadata: (metadata, pass) => {
            gates.set(metadata, gate);
            pass(metadata);
          },
          onReceiveMessage: (message, pass) => gate.offer(() => pass(message)),
        }),
    });
  };
}

/** The gate of a call served through `oneRequestAtATime`, by its metadata; an always-open one otherwise. */
export function requestGate(metadata: Metadata): RequestGate {
  return gates.get(metadata) ?? OPEN_GATE;
}

class MessageGate implements RequestGate {
  private open = true;
  private readonly held: Array<() => void> = [];

  offer(deliver: () => void): void {
    if (!this.open) {
      this.held.push(deliver);
      return;
    }
    this.open = false;
    deliver();
  }

  release(): void {
    const next = this.held.shift();
    if (next) next();
    else this.open = true;
  }
}

/**
 * grpc-js's graceful shutdown, bounded: stop listening, send every connection GOAWAY and wait for
 * the clients to close their open streams (so answers already sent are read, not cut by a reset);
 * past `timeoutMs`, forceShutdown. Resolves true if every connection closed in time.
 */
export async function shutdownGracefully(server: Server, timeoutMs: number): Promise<boolean> {
  const closed = new Promise<boolean>((resolve) => server.tryShutdown(() => resolve(true)));
  const graceful = await withTimeout(closed, timeoutMs, () => false);
  if (!graceful) server.forceShutdown();
  return graceful;
}
