import { Metadata, Server, type ServerCredentials, type ServerDuplexStream } from '@grpc/grpc-js';
import { ServerGrpc, type GrpcOptions } from '@nestjs/microservices';

/*
 * The one place that leans on how @nestjs/microservices' gRPC transport drives grpc-js: which
 * arguments it passes to call.end() and call.write(), what it hands to onLoadPackageDefinition, and
 * which grpc-js Server it serves on. nest-grpc.adapter.spec.ts pins each of these against a real
 * Nest microservice, so an upgrade that changes one fails a test instead of production.
 */

/**
 * Nest's gRPC transport serving on a grpc-js Server built by `createServer` instead of its own. Nest
 * builds its Server and binds it in one step (createClient), which leaves no moment to set what
 * grpc-js takes only at construction or applies at bind (server interceptors, node:http2 options);
 * everything else (handlers, guards, reflection through onLoadPackageDefinition) is Nest's as usual.
 * Use it as `app.connectMicroservice({ strategy })`. `options` must not carry grpc-js server options
 * (max message lengths, keepalive, channelOptions): `createServer` owns those.
 */
export class NestGrpcTransport extends ServerGrpc {
  constructor(
    options: GrpcOptions['options'],
    private readonly createServer: () => Server,
    private readonly serverCredentials: ServerCredentials,
  ) {
    super(options);
  }

  /** Nest calls this from listen() and serves on (and at close() shuts down) what it returns. */
  override async createClient(): Promise<Server> {
    const server = this.createServer();
    await new Promise<number>((resolve, reject) =>
      server.bindAsync(this.url, this.serverCredentials, (error, port) => (error ? reject(error) : resolve(port))),
    );
    return server;
  }

  /** The grpc-js Server once listening (for graceful shutdown), else undefined. */
  get grpcServer(): Server | undefined {
    return this.grpcClient instanceof Server ? this.grpcClient : undefined;
  }
}

/** A grpc-js server call whose responses Nest writes from the handler's Observable. */
export type NestStreamCall<Response> = ServerDuplexStream<unknown, Response>;

/** Nest ends a stream with a bare end(); this routes the given trailers through it. */
export function endWithTrailers(call: NestStreamCall<unknown>, trailers: Metadata): void {
  const end = call.end.bind(call) as (metadata?: Metadata) => void;
  call.end = ((metadata?: Metadata) => end(metadata ?? trailers)) as typeof call.end;
}

/**
 * Calls `started` for each response Nest writes and `flushed` once grpc-js has handed its bytes to
 * the connection, or the call closed first (grpc-js does not promise a callback for a write cut off
 * by cancellation), so graceful shutdown does not close the server under a half-sent multi-MiB answer.
 */
export function trackWrites<Response>(call: NestStreamCall<Response>, started: () => void, flushed: () => void): void {
  const pending = new Set<() => void>();
  const write = call.write.bind(call) as (chunk: Response, callback: (error?: Error | null) => void) => boolean;
  // Nest writes with a bare write(value): the callback is ours to add.
  call.write = ((chunk: Response) => {
    started();
    let done = false;
    const onFlushed = () => {
      if (done) return;
      done = true;
      pending.delete(onFlushed);
      flushed();
    };
    pending.add(onFlushed);
    return write(chunk, onFlushed);
  }) as typeof call.write;
  call.once('close', () => {
    for (const onFlushed of [...pending]) onFlushed();
  });
}

/**
 * An `onLoadPackageDefinition` option that hands Nest's grpc-js Server to `register` (Nest types it
 * `any`), so services Nest does not know about (reflection, grpc.health.v1) share its port.
 */
export function onNestGrpcServer(register: (server: Server) => void): (packageDefinition: unknown, server: unknown) => void {
  return (_packageDefinition, server) => {
    if (!(server instanceof Server)) {
      throw new Error('@nestjs/microservices no longer passes its grpc-js Server to onLoadPackageDefinition; see nest-grpc.adapter.ts');
    }
    register(server);
  };
}
