import { Metadata, status as GrpcStatus, type StatusObject } from '@grpc/grpc-js';

/** grpc-go's `codes.Code.String()` names, which istioctl prints inside `rpc error: code = … desc = …`. */
const GO_CODE_NAMES: Record<number, string> = {
  [GrpcStatus.OK]: 'OK',
  [GrpcStatus.CANCELLED]: 'Canceled',
  [GrpcStatus.UNKNOWN]: 'Unknown',
  [GrpcStatus.INVALID_ARGUMENT]: 'InvalidArgument',
  [GrpcStatus.DEADLINE_EXCEEDED]: 'DeadlineExceeded',
  [GrpcStatus.NOT_FOUND]: 'NotFound',
  [GrpcStatus.ALREADY_EXISTS]: 'AlreadyExists',
  [GrpcStatus.PERMISSION_DENIED]: 'PermissionDenied',
  [GrpcStatus.RESOURCE_EXHAUSTED]: 'ResourceExhausted',
  [GrpcStatus.FAILED_PRECONDITION]: 'FailedPrecondition',
  [GrpcStatus.ABORTED]: 'Aborted',
  [GrpcStatus.OUT_OF_RANGE]: 'OutOfRange',
  [GrpcStatus.UNIMPLEMENTED]: 'Unimplemented',
  [GrpcStatus.INTERNAL]: 'Internal',
  [GrpcStatus.UNAVAILABLE]: 'Unavailable',
  [GrpcStatus.DATA_LOSS]: 'DataLoss',
  [GrpcStatus.UNAUTHENTICATED]: 'Unauthenticated',
};

/**
 * The stream ended with a non-OK status before the awaited response. The message reads like
 * grpc-go's status error so `Error: …` lines match what istioctl prints for the same failure.
 */
export class XdsStatusError extends Error {
  readonly code: GrpcStatus;
  readonly details: string;
  readonly metadata: Metadata;

  constructor(status: Pick<StatusObject, 'code' | 'details'> & { metadata?: Metadata }) {
    const name = GO_CODE_NAMES[status.code] ?? `Code(${status.code})`;
    super(`rpc error: code = ${name} desc = ${status.details}`);
    this.name = 'XdsStatusError';
    this.code = status.code;
    this.details = status.details;
    this.metadata = status.metadata ?? new Metadata();
  }
}

/** istioctl's wait gave up (adsc `WaitVersion`); the request itself may still be in flight upstream. */
export class XdsTimeoutError extends Error {
  constructor(readonly typeUrl: string) {
    super(`timeout, still waiting for updates: ${typeUrl}`);
    this.name = 'XdsTimeoutError';
  }
}

/** The server ended the stream with OK before answering: grpc-go's Recv then returns io.EOF. */
export class XdsEndOfStreamError extends Error {
  constructor() {
    super('EOF');
    this.name = 'XdsEndOfStreamError';
  }
}
