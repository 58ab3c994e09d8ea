import { ServerDuplexStream } from '@grpc/grpc-js';
import { DiscoveryRequest, DiscoveryResponse } from '../../common/xds-types.js';

/**
 * The grpc-js call behind one istioctl stream. Hooks that depend on how Nest drives it
 * (trailers through end(), flush tracking through write()) live in adapters/nest-grpc.adapter.ts.
 */
export type AdsCall = ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>;

export function callerDeadline(call: AdsCall): Date | undefined {
  const deadline = call.getDeadline();
  if (deadline instanceof Date) return deadline;
  return Number.isFinite(deadline) ? new Date(deadline) : undefined;
}
