import { status } from '@grpc/grpc-js';

/** A gRPC status in the shape grpc-js servers turn into trailers (`code` + `details`). */
export class XdsStatusError extends Error {
  constructor(
    readonly code: status,
    readonly details: string,
  ) {
    super(details);
  }
}

/** The status messages istiod uses, verbatim, so tests can assert on them. */
export const ISTIOD_MESSAGES = {
  notReady: 'server is not ready to serve discovery information',
  rateLimited: 'request rate limit exceeded: rate: Wait(n=1) would exceed context deadline',
  authenticationFailure: 'authentication failure',
  authenticationRequired: 'authentication required',
  missingNode: 'missing node information',
  oneDebugRequest: 'exactly one debug request is required',
} as const;

export function spiffeId(namespace: string, serviceAccount: string): string {
  return `spiffe://cluster.local/ns/${namespace}/sa/${serviceAccount}`;
}
