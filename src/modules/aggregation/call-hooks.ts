import { Metadata, ServerDuplexStream } from '@grpc/grpc-js';
import { DiscoveryRequest, DiscoveryResponse } from '../../common/xds-types.js';

export type AdsCall = ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>;

/** Nest ends a stream with a bare end(); this routes the given trailers through it. */
export function endWithTrailers(call: AdsCall, trailers: Metadata): void {
  const end = call.end.bind(call) as (metadata?: Metadata) => void;
  call.end = ((metadata?: Metadata) => end(metadata ?? trailers)) as typeof call.end;
}

/**
 * Calls `started` for each response Nest writes and `flushed` once grpc-js has handed its bytes to
 * the connection (or the call closed first: grpc-js skips the callback for cancelled calls), so
 * graceful shutdown does not close the server under a half-sent multi-MiB answer.
 */
export function trackWrites(call: AdsCall, started: () => void, flushed: () => void): void {
  const pending = new Set<() => void>();
  const write = call.write.bind(call) as (chunk: DiscoveryResponse, callback: (error?: Error | null) => void) => boolean;
  // Nest writes with a bare write(value).
  call.write = ((chunk: DiscoveryResponse) => {
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

export function callerDeadline(call: AdsCall): Date | undefined {
  const deadline = call.getDeadline();
  if (deadline instanceof Date) return deadline;
  return Number.isFinite(deadline) ? new Date(deadline) : undefined;
}
