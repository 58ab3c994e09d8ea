import { readFileSync } from 'node:fs';
// jose's subpath entry points: its index also loads JWE, JWS signing and key import/export (46 of its modules; these
// and jwt-claims.ts's load 13). The type-only import from 'jose' is erased at compile time.
import type { JSONWebKeySet } from 'jose';
import { createLocalJWKSet } from 'jose/jwks/local';
import { createRemoteJWKSet, type RemoteJWKSetOptions } from 'jose/jwks/remote';
import { jwtVerify, type JWTVerifyGetKey } from 'jose/jwt/verify';
import { Clock } from '../../common/clock.js';
import { ConfigError } from '../../config/config.error.js';
import { CallerIdentity, TokenRejected, identityFromSubject, tokenHash } from './caller-identity.js';
import { ExpiringEntries } from './expiring-entries.js';
import { CLOCK_SKEW_SECONDS, rejectionFromJose } from './jwt-claims.js';
import { TokenVerifier } from './token-verifier.js';

export interface JwksVerifierOptions {
  audiences: string[];
  /** JWT_ISSUER: checked as `iss` whenever set, whichever way the key set is found. */
  issuer?: string;
  jwksUri?: string;
  jwksFile?: string;
  /** What `exp` and `nbf` are checked against, and cached verifications' lifetimes. */
  clock: Clock;
  /**
   * JWT_CACHE_MS: how long a successful verification is reused without jose, never past the token's
   * `exp`; 0 (the default here): every call verifies.
   */
  cacheTtlMs?: number;
  /** TOKEN_CACHE_SIZE: the most verifications remembered, keyed by a hash of the token; the oldest go first. */
  maxCacheEntries?: number;
  /** The key set itself, instead of one built from the options above (specs count its calls). */
  keys?: JWTVerifyGetKey;
  /** jose's options for a remote key set (JWT_JWKS_URI, OIDC discovery): its refetch cooldown and cache age. */
  remoteJwks?: RemoteJWKSetOptions;
  /** A call answered from the cache or by joining a verification of the same token in flight. */
  onCacheHit?: () => void;
}

/** TOKEN_CACHE_SIZE default, as for TokenReview. */
export const DEFAULT_JWT_CACHE_SIZE = 10_000;

interface CachedVerification {
  identity: CallerIdentity;
  verifiedAtMs: number;
}

/**
 * AUTH_MODE=jwks: offline validation with jose. Remote key sets are cached and refetched when a
 * token names an unknown `kid` (jose's createRemoteJWKSet does both, with a cooldown). Like the
 * Kubernetes API in AUTH_MODE=tokenreview, `exp` is required and 60 s of clock skew are tolerated.
 *
 * istioctl opens a stream per command with the same token, and a signature check is most of what a
 * stream costs, so successful verifications are remembered for JWT_CACHE_MS (never past `exp`),
 * keyed by the token's SHA-256, never the token; concurrent verifications of one token are shared.
 * A key removed from a remote set therefore stops being accepted at most JWT_CACHE_MS after jose's
 * copy of the set lost it. Rejections are not remembered: they cost no more than a cache miss.
 */
export class JwksVerifier extends TokenVerifier {
  readonly mode = 'jwks';
  private keys?: JWTVerifyGetKey;
  private readonly cache: ExpiringEntries<CachedVerification>;
  private readonly inFlight = new Map<string, Promise<CallerIdentity>>();

  constructor(private readonly options: JwksVerifierOptions) {
    super();
    this.cache = new ExpiringEntries(options.maxCacheEntries ?? DEFAULT_JWT_CACHE_SIZE, options.clock);
    if (options.keys) this.keys = options.keys;
    else if (options.jwksFile) this.keys = createLocalJWKSet(readJwksFile(options.jwksFile));
    else if (options.jwksUri) this.keys = createRemoteJWKSet(new URL(options.jwksUri), options.remoteJwks);
    else if (!options.issuer) throw new ConfigError('JWT_JWKS_URI', 'or JWT_ISSUER or JWT_JWKS_FILE must be set with AUTH_MODE=jwks');
  }

  async verify(token: string): Promise<CallerIdentity> {
    if (!this.options.cacheTtlMs || this.options.cacheTtlMs <= 0) return this.verifyWithJose(token);
    const key = tokenHash(token);
    const now = this.options.clock.now();
    const cached = this.cache.get(key);
    if (cached) {
      // A clock that went back could put the token before its `nbf` again: verify anew then.
      if (now >= cached.verifiedAtMs) {
        this.options.onCacheHit?.();
        return cached.identity;
      }
      this.cache.delete(key);
    }
    const pending = this.inFlight.get(key);
    if (pending) {
      this.options.onCacheHit?.();
      return pending;
    }
    const verification = this.verifyWithJose(token)
      .then((identity) => this.remember(key, identity))
      .finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, verification);
    return verification;
  }

  /** Number of verifications remembered (specs, and the bound). */
  get cacheSize(): number {
    return this.cache.size;
  }

  private async verifyWithJose(token: string): Promise<CallerIdentity> {
    try {
      const keys = this.keys ?? (this.keys = await discoverJwks(this.options.issuer!, this.options.remoteJwks));
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

  /** Keeps the verification until min(exp, now + JWT_CACHE_MS), within TOKEN_CACHE_SIZE (ExpiringEntries). */
  private remember(key: string, identity: CallerIdentity): CallerIdentity {
    const now = this.options.clock.now();
    const expiresAtMs = Math.min(identity.expiresAtMs ?? Infinity, now + this.options.cacheTtlMs!);
    if (expiresAtMs <= now) return identity; // within the skew past exp: nothing to reuse
    this.cache.set(key, { identity, verifiedAtMs: now }, expiresAtMs);
    return identity;
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
async function discoverJwks(issuer: string, remoteJwks?: RemoteJWKSetOptions): Promise<JWTVerifyGetKey> {
  const url = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
  const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
  if (!response.ok) throw new TokenRejected(`token could not be verified: OIDC discovery at ${url} answered ${response.status}`);
  const { jwks_uri: jwksUri } = (await response.json()) as { jwks_uri?: string };
  if (!jwksUri) throw new TokenRejected(`token could not be verified: ${url} has no jwks_uri`);
  return createRemoteJWKSet(new URL(jwksUri), remoteJwks);
}
