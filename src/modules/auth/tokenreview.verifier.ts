import { createHash } from 'node:crypto';
import { AuthenticationV1Api, KubeConfig } from '@kubernetes/client-node';
import { CallerIdentity, TokenRejected, identityFromSubject } from './caller-identity.js';
import { unverifiedClaims } from './jwt-claims.js';
import { TokenVerifier } from './token-verifier.js';

export interface TokenReviewVerifierOptions {
  kubeConfig: KubeConfig;
  audiences: string[];
  /** Bounded cache of successful reviews, keyed by a hash of the token (never the token itself). */
  maxCacheEntries?: number;
  /** Cache lifetime for a token without `exp`. */
  defaultTtlMs?: number;
  now?: () => number;
  onReview?: (outcome: 'authenticated' | 'rejected' | 'error') => void;
  onCacheHit?: () => void;
}

interface CacheEntry {
  identity: CallerIdentity;
  expiresAtMs: number;
}

/**
 * AUTH_MODE=tokenreview: what istiod itself does. The API server that issued the caller's token
 * says whether it is valid for the requested audiences. Successful reviews are cached until the
 * token expires, and concurrent reviews of one token are shared, so a burst makes one review.
 */
export class TokenReviewVerifier extends TokenVerifier {
  readonly mode = 'tokenreview';
  private readonly api: AuthenticationV1Api;
  private readonly cache = new Map<string, CacheEntry>();
  private readonly inFlight = new Map<string, Promise<CallerIdentity>>();
  private readonly now: () => number;

  constructor(private readonly options: TokenReviewVerifierOptions) {
    super();
    this.api = options.kubeConfig.makeApiClient(AuthenticationV1Api);
    this.now = options.now ?? Date.now;
  }

  async verify(token: string): Promise<CallerIdentity> {
    const claims = unverifiedClaims(token);
    const nowSeconds = this.now() / 1000;
    // Cheap local checks first: no API round trip for a token that cannot be valid.
    if (claims.exp !== undefined && claims.exp <= nowSeconds) throw new TokenRejected('token expired');
    if (claims.nbf !== undefined && claims.nbf > nowSeconds + 60) throw new TokenRejected('token not yet valid');
    const key = createHash('sha256').update(token).digest('base64url');
    const cached = this.cache.get(key);
    if (cached && cached.expiresAtMs > this.now()) {
      this.options.onCacheHit?.();
      return cached.identity;
    }
    const pending = this.inFlight.get(key);
    if (pending) {
      this.options.onCacheHit?.();
      return pending;
    }
    const review = this.review(token, claims.exp).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, review);
    const identity = await review;
    this.remember(key, identity);
    return identity;
  }

  private async review(token: string, exp: number | undefined): Promise<CallerIdentity> {
    let status;
    try {
      const result = await this.api.createTokenReview({
        body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences: this.options.audiences } },
      });
      status = result.status;
    } catch (err) {
      this.options.onReview?.('error');
      const code = (err as { code?: number }).code;
      throw new TokenRejected(`token could not be verified: TokenReview failed${code ? ` (${code})` : ''}`);
    }
    if (!status?.authenticated || !status.user?.username) {
      this.options.onReview?.('rejected');
      throw new TokenRejected(`token rejected by the Kubernetes API${status?.error ? `: ${status.error}` : ''}`);
    }
    const granted = status.audiences ?? [];
    if (granted.length > 0 && !granted.some((audience) => this.options.audiences.includes(audience))) {
      this.options.onReview?.('rejected');
      throw new TokenRejected(`token audience not accepted (expected one of: ${this.options.audiences.join(', ')})`);
    }
    this.options.onReview?.('authenticated');
    return identityFromSubject(status.user.username, exp ? exp * 1000 : undefined);
  }

  private remember(key: string, identity: CallerIdentity): void {
    const expiresAtMs = identity.expiresAtMs ?? this.now() + (this.options.defaultTtlMs ?? 60_000);
    const max = this.options.maxCacheEntries ?? 10_000;
    if (this.cache.size >= max) {
      for (const [k, entry] of this.cache) if (entry.expiresAtMs <= this.now()) this.cache.delete(k);
      // Still full: drop the oldest insertion (Map keeps insertion order).
      while (this.cache.size >= max) this.cache.delete(this.cache.keys().next().value as string);
    }
    this.cache.set(key, { identity, expiresAtMs });
  }
}
