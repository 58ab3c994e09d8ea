import { Metadata, status } from '@grpc/grpc-js';
import { RpcException } from '@nestjs/microservices';
import { InstanceFailure } from './fanout-result.js';

/** The gRPC status-like error grpc-js clients emit. */
export interface GrpcStatusError {
  code?: number;
  details?: string;
  message?: string;
}

const REASONS: Record<number, string> = {
  [status.CANCELLED]: 'cancelled',
  [status.UNKNOWN]: 'unknown',
  [status.INVALID_ARGUMENT]: 'invalid_argument',
  [status.DEADLINE_EXCEEDED]: 'timeout',
  [status.NOT_FOUND]: 'not_found',
  [status.PERMISSION_DENIED]: 'permission_denied',
  [status.RESOURCE_EXHAUSTED]: 'resource_exhausted',
  [status.FAILED_PRECONDITION]: 'failed_precondition',
  [status.UNIMPLEMENTED]: 'unimplemented',
  [status.INTERNAL]: 'internal',
  [status.UNAVAILABLE]: 'unavailable',
  [status.UNAUTHENTICATED]: 'unauthenticated',
};

export function failureFromError(err: unknown): InstanceFailure {
  const e = (err ?? {}) as GrpcStatusError;
  const code = typeof e.code === 'number' ? e.code : status.UNKNOWN;
  const message = e.details || e.message || String(err);
  return { code, message, reason: REASONS[code] ?? 'unknown' };
}

export function timeoutFailure(timeoutMs: number): InstanceFailure {
  return { code: status.DEADLINE_EXCEEDED, message: `no answer within ${timeoutMs} ms`, reason: 'timeout' };
}

/** Nest's RPC exception filter turns this into the call's status (code, message, trailers). */
export function rpcError(code: status, message: string, metadata?: Metadata): RpcException {
  return new RpcException(metadata ? { code, message, metadata } : { code, message });
}
