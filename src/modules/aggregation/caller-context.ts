import { Metadata } from '@grpc/grpc-js';
import { CallerIdentity } from '../auth/caller-identity.js';

/** Who asked, and by when they need the answer: everything about the caller a request carries. */
export interface CallerContext {
  metadata: Metadata;
  /** The caller's gRPC deadline, if it set one. */
  deadline?: Date;
  /** Set by the auth guard. */
  identity?: CallerIdentity;
}
