import * as errors from 'jose/errors';
import { decodeJwt } from 'jose/jwt/decode';
import { TokenRejected } from './caller-identity.js';

/** Clock skew tolerated on `exp` and `nbf` (what the Kubernetes API server itself allows: 60 s). */
export const CLOCK_SKEW_SECONDS = 60;

/** Reads a JWT's claims without verifying it (format, expiry and not-before pre-checks, cache TTL). */
export function unverifiedClaims(token: string): { exp?: number; nbf?: number; sub?: string; aud?: string | string[]; iss?: string } {
  try {
    return decodeJwt(token);
  } catch {
    throw new TokenRejected('malformed token: not a JWT');
  }
}

/** Turns jose's verification errors into the check that failed. */
export function rejectionFromJose(err: unknown, { audiences, issuer }: { audiences: string[]; issuer?: string }): TokenRejected {
  if (err instanceof TokenRejected) return err;
  if (err instanceof errors.JWTExpired) return new TokenRejected('token expired');
  if (err instanceof errors.JWTClaimValidationFailed) {
    const missing = err.reason === 'missing';
    switch (err.claim) {
      case 'aud':
        return new TokenRejected(`token audience not accepted (expected one of: ${audiences.join(', ')})`);
      case 'iss':
        return new TokenRejected(
          missing
            ? `token has no issuer: the "iss" claim is required (expected ${issuer})`
            : `token issuer not accepted (expected ${issuer})`,
        );
      case 'exp':
        return new TokenRejected(missing ? 'token has no expiry: the "exp" claim is required' : 'token expiry ("exp") invalid');
      case 'nbf':
        return new TokenRejected('token not yet valid');
      default:
        return new TokenRejected(`token claim "${err.claim}" invalid: ${err.reason}`);
    }
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return new TokenRejected('token signature invalid');
  if (err instanceof errors.JWKSNoMatchingKey) return new TokenRejected('token signed by an unknown key');
  if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported)
    return new TokenRejected('token algorithm not accepted');
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) return new TokenRejected('malformed token');
  return new TokenRejected(`token could not be verified: ${(err as Error)?.message ?? String(err)}`);
}
