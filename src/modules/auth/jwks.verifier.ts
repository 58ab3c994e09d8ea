import { readFileSync } from 'node:fs';
import { JSONWebKeySet, JWTVerifyGetKey, createLocalJWKSet, createRemoteJWKSet, jwtVerify } from 'jose';
import { Clock } from '../../common/clock.js';
import { ConfigError } from '../../config/config.error.js';
import { CallerIdentity, TokenRejected, identityFromSubject } from './caller-identity.js';
import { CLOCK_SKEW_SECONDS, rejectionFromJose } from './jwt-claims.js';
import { TokenVerifier } from './token-verifier.js';

export interface JwksVerifierOptions {
  audiences: string[];
  /** JWT_ISSUER: checked as `iss` whenever set, whichever way the key set is found. */
  issuer?: string;
  jwksUri?: string;
  jwksFile?: string;
  /** What `exp` and `nbf` are checked against. */
  clock: Clock;
}

/**
 * AUTH_MODE=jwks: offline validation with jose. Remote key sets are cached and refetched when a
 * token names an unknown `kid` (jose's createRemoteJWKSet does both, with a cooldown). Like the
 * Kubernetes API in AUTH_MODE=tokenreview, `exp` is required and 60 s of clock skew are tolerated.
 */
export class JwksVerifier extends TokenVerifier {
  readonly mode = 'jwks';
  private keys?: JWTVerifyGetKey;

  constructor(private readonly options: JwksVerifierOptions) {
    super();
    if (options.jwksFile) this.keys = createLocalJWKSet(readJwksFile(options.jwksFile));
    else if (options.jwksUri) this.keys = createRemoteJWKSet(new URL(options.jwksUri));
    else if (!options.issuer) throw new ConfigError('JWT_JWKS_URI', 'or JWT_ISSUER or JWT_JWKS_FILE must be set with AUTH_MODE=jwks');
  }

  async verify(token: string): Promise<CallerIdentity> {
    try {
      const keys = this.keys ?? (this.keys = await discoverJwks(this.options.issuer!));
      const { audiences: audience, issuer, clock } = this.options;
      const { payload } = await jwtVerify(token, keys, {
        audience,
        issuer,
        requiredClaims: ['exp'],
        clockTolerance: CLOCK_SKEW_SECONDS,
        currentDate: new Date(clock.now()),
      });
      if (!payload.sub) throw new TokenRejected('token has no subject');
      return identityFromSubject(payload.sub, payload.exp ? payload.exp * 1000 : undefined);
    } catch (err) {
      throw rejectionFromJose(err, this.options);
    }
  }
}

function readJwksFile(path: string): JSONWebKeySet {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as JSONWebKeySet;
  } catch (err) {
    throw new ConfigError('JWT_JWKS_FILE', `=${path} is not a readable JWKS JSON file: ${(err as Error).message}`);
  }
}

/** OIDC discovery: `<issuer>/.well-known/openid-configuration` names the `jwks_uri`. */
async function discoverJwks(issuer: string): Promise<JWTVerifyGetKey> {
  const url = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
  const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
  if (!response.ok) throw new TokenRejected(`token could not be verified: OIDC discovery at ${url} answered ${response.status}`);
  const { jwks_uri: jwksUri } = (await response.json()) as { jwks_uri?: string };
  if (!jwksUri) throw new TokenRejected(`token could not be verified: ${url} has no jwks_uri`);
  return createRemoteJWKSet(new URL(jwksUri));
}
