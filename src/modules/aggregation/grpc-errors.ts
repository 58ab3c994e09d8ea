import { Metadata, status } from '@grpc/grpc-js';
import { RpcException } from '@nestjs/microservices';
import { InstanceFailure } from './fanout-result.js';

/** The gRPC status-like error grpc-js clients emit. */
export interface GrpcStatusError {
  code?: number;
  details?: string;
  message?: string;
}

/** Codes istiod failures are not labelled by (reason `unknown`): OK is no failure, and istiod sends none of the others. */
const UNLABELLED = new Set<number>([status.OK, status.ALREADY_EXISTS, status.ABORTED, status.OUT_OF_RANGE, status.DATA_LOSS]);
/** Reasons other than the status name in lower case. */
const RENAMED = new Map<number, string>([[status.DEADLINE_EXCEEDED, 'timeout']]);

/** The `reason` label of a failure (istiod_errors_total): a bounded set of values. */
function reasonOf(code: number): string {
  const name = status[code] as string | undefined;
  return RENAMED.get(code) ?? (name === undefined || UNLABELLED.has(code) ? 'unknown' : name.toLowerCase());
}

export function failureFromError(err: unknown): InstanceFailure {
  const e = (err ?? {}) as GrpcStatusError;
  const code = typeof e.code === 'number' ? e.code : status.UNKNOWN;
  const message = e.details || e.message || String(err);
  return { code, message, reason: reasonOf(code) };
}

export function timeoutFailure(timeoutMs: number): InstanceFailure {
  return { code: status.DEADLINE_EXCEEDED, message: `no answer within ${timeoutMs} ms`, reason: 'timeout' };
}

/**
 * The longest status message we send. grpc-message travels in the trailers' header block, which
 * HTTP/2 peers cap (Node: 64000 bytes): an over-long message (istiod echoes the caller's node id in
 * its errors, once per replica) would lose the whole status instead of just its tail.
 */
export const MAX_STATUS_MESSAGE_CHARS = 4096;

export function boundedMessage(message: string, max = MAX_STATUS_MESSAGE_CHARS): string {
  if (message.length <= max) return message;
  return `${message.slice(0, max)}… (${message.length - max} more characters)`;
}

/** Nest's RPC exception filter turns this into the call's status (code, message, trailers). */
export function rpcError(code: status, message: string, metadata?: Metadata): RpcException {
  const bounded = boundedMessage(message);
  return new RpcException(metadata ? { code, message: bounded, metadata } : { code, message: bounded });
}
