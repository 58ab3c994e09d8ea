import { createHash } from 'node:crypto';
/** Who is calling, as established by the token verifier. */
export interface CallerIdentity {
  /** e.g. `system:serviceaccount:istio-system:default`. */
  subject: string;
  namespace?: string;
  serviceAccount?: string;
  /** Token expiry in ms since epoch, when known. */
  expiresAtMs?: number;
  /**
   * The cluster whose API server accepted the token (AUTH_CLUSTERS, AUTH_CLUSTER_ID, remote
   * secrets); sent to istiod as `clusterid`. Unset when no cluster ID is known (jwks, none, or a
   * single cluster without AUTH_CLUSTER_ID): the caller's own `clusterid` is then forwarded as is.
   */
  clusterId?: string;
}

const SERVICE_ACCOUNT_SUBJECT = /^system:serviceaccount:([^:]+):([^:]+)$/;

export function identityFromSubject(subject: string, expiresAtMs?: number): CallerIdentity {
  const match = SERVICE_ACCOUNT_SUBJECT.exec(subject);
  return { subject, namespace: match?.[1], serviceAccount: match?.[2], expiresAtMs };
}

/** Thrown by verifiers: `reason` says which check failed and never contains the token. */
export class TokenRejected extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'TokenRejected';
  }
}

/**
 * The verifier got no verdict on the token (e.g. TokenReview answered 500): the caller is refused
 * like for a rejection, but nothing is remembered about the token, since a retry may succeed.
 */
export class TokenUnverifiable extends TokenRejected {
  constructor(reason: string) {
    super(reason);
    this.name = 'TokenUnverifiable';
  }
}

/**
 * The verifier did not answer in time (a TokenReview past TOKENREVIEW_TIMEOUT_MS): the caller did
 * nothing wrong, so the call ends UNAVAILABLE rather than UNAUTHENTICATED. `reason` names the API.
 */
export class VerifierUnavailable extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'VerifierUnavailable';
  }
}

/** How a token is named in caches and keys: its SHA-256, never the token itself. */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}
