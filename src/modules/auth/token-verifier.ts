import { CallerIdentity } from './caller-identity.js';

/** Verifies a caller's bearer token (TokenReview, JWKS, or nothing); throws TokenRejected. */
export abstract class TokenVerifier {
  abstract readonly mode: string;
  abstract verify(token: string): Promise<CallerIdentity>;
}
