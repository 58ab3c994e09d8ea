import { Metadata, Server, type ServerDuplexStream } from '@grpc/grpc-js';

/*
 * The one place that leans on how @nestjs/microservices' gRPC transport drives grpc-js: which
 * arguments it passes to call.end() and call.write(), and what it hands to onLoadPackageDefinition.
 * nest-grpc.adapter.spec.ts pins each of these against a real Nest microservice, so an upgrade that
 * changes one fails a test instead of production.
 */

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
