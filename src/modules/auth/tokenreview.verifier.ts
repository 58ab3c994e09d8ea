import type { KubeConfig } from '@kubernetes/client-node';
import { Clock } from '../../common/clock.js';
import { AuthCluster, AuthClusters } from './auth-clusters.js';
import { CallerIdentity, TokenRejected, TokenUnverifiable, VerifierUnavailable, tokenHash } from './caller-identity.js';
import { ClusterTokenReview, TokenReviewOutcome } from './cluster-token-review.js';
import { CLOCK_SKEW_SECONDS, unverifiedClaims } from './jwt-claims.js';
import { RejectedTokens } from './rejected-tokens.js';
import { TokenVerifier } from './token-verifier.js';

/** How many clusters' reasons a rejection names before "and N more". */
const MAX_REASONS_NAMED = 5;
/** TOKEN_REJECT_CACHE_MS and TOKEN_REJECT_CACHE_SIZE defaults. */
export const DEFAULT_REJECT_CACHE_MS = 10_000;
export const DEFAULT_REJECT_CACHE_SIZE = 10_000;

export interface TokenReviewVerifierOptions {
  /** The clusters a token is reviewed against, in parallel (AUTH_CLUSTERS, remote secrets). */
  clusters?: AuthClusters;
  /** Shorthand for one cluster without an ID (AUTH_KUBECONFIG), when `clusters` is not given. */
  kubeConfig?: KubeConfig;
  audiences: string[];
  /** Bounded cache of successful reviews, keyed by a hash of the token (never the token itself). */
  maxCacheEntries?: number;
  /** Cache lifetime for a token without `exp`. */
  defaultTtlMs?: number;
  /** How long a token every cluster rejected is refused without asking again (TOKEN_REJECT_CACHE_MS); 0: never. */
  rejectCacheMs?: number;
  /** The most rejected tokens remembered (TOKEN_REJECT_CACHE_SIZE), keyed by a hash of the token. */
  maxRejectCacheEntries?: number;
  /** TOKENREVIEW_TIMEOUT_MS of the `kubeConfig` shorthand (with `clusters`, each reviewer has its own). */
  timeoutMs?: number;
  /** What token expiry (`exp`, `nbf`) and cache lifetimes are checked against. */
  clock: Clock;
  onReview?: (outcome: TokenReviewOutcome) => void;
  onCacheHit?: () => void;
}

interface CacheEntry {
  identity: CallerIdentity;
  expiresAtMs: number;
  /** The cluster that accepted the token: the entry is stale once it is removed or replaced. */
  cluster: AuthCluster;
}

interface Accepted {
  identity: CallerIdentity;
  cluster: AuthCluster;
}

/**
 * AUTH_MODE=tokenreview: what istiod itself does. The API server that issued the caller's token
 * says whether it is valid for the requested audiences; with several clusters, each is asked and
 * the identity names the one that accepted. Successful reviews are cached (with that cluster) until
 * the token expires, and concurrent reviews of one token are shared, so a burst makes one review.
 * A token every cluster rejected is refused without a review for a short while (RejectedTokens);
 * one that some cluster could not judge (an error, no answer in time) is asked about again.
 */
export class TokenReviewVerifier extends TokenVerifier {
  readonly mode = 'tokenreview';
  readonly clusters: AuthClusters;
  private readonly cache = new Map<string, CacheEntry>();
  private readonly inFlight = new Map<string, Promise<Accepted>>();
  private readonly rejected: RejectedTokens;

  constructor(private readonly options: TokenReviewVerifierOptions) {
    super();
    this.clusters = options.clusters ?? singleCluster(options);
    this.rejected = new RejectedTokens({
      ttlMs: options.rejectCacheMs ?? DEFAULT_REJECT_CACHE_MS,
      maxEntries: options.maxRejectCacheEntries ?? DEFAULT_REJECT_CACHE_SIZE,
      clock: options.clock,
    });
  }

  async verify(token: string): Promise<CallerIdentity> {
    const claims = unverifiedClaims(token);
    const now = this.options.clock.now();
    const nowSeconds = now / 1000;
    // Cheap local checks first: no API round trip for a token that cannot be valid.
    if (claims.exp !== undefined && claims.exp <= nowSeconds) throw new TokenRejected('token expired');
    if (claims.nbf !== undefined && claims.nbf > nowSeconds + CLOCK_SKEW_SECONDS) throw new TokenRejected('token not yet valid');
    const key = tokenHash(token);
    const cached = this.cache.get(key);
    if (cached && cached.expiresAtMs > now && this.clusters.isCurrent(cached.cluster)) {
      this.options.onCacheHit?.();
      return cached.identity;
    }
    const generation = this.clusters.generation;
    const rejection = this.rejected.recall(key, generation);
    if (rejection !== undefined) {
      this.options.onCacheHit?.();
      throw new TokenRejected(rejection);
    }
    const pending = this.inFlight.get(key);
    if (pending) {
      this.options.onCacheHit?.();
      return (await pending).identity;
    }
    const review = this.review(token, claims.exp).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, review);
    let accepted: Accepted;
    try {
      accepted = await review;
    } catch (err) {
      if (err instanceof TokenRejected && !(err instanceof TokenUnverifiable)) this.rejected.remember(key, err.reason, generation);
      throw err;
    }
    this.remember(key, accepted);
    return accepted.identity;
  }

  /**
   * Every known cluster reviews the token at once; the first to accept wins (tokens of different
   * clusters are signed by different keys, so at most one should), so a cluster that does not answer
   * delays nobody another cluster accepts. None accepting: each one's reason, and UNAVAILABLE
   * (VerifierUnavailable) rather than a rejection if any of them did not answer in time.
   */
  private async review(token: string, exp: number | undefined): Promise<Accepted> {
    const clusters = this.clusters.all();
    if (clusters.length === 0) throw new TokenUnverifiable('token could not be verified: no cluster is known to review tokens');
    const reviews = clusters.map(async (cluster) => ({ cluster, identity: await cluster.reviewer.review(token, exp) }));
    try {
      return await Promise.any(reviews);
    } catch (err) {
      const failures = (err as AggregateError).errors.map(asVerdict);
      if (clusters.length === 1) throw failures[0];
      const named = clusters.slice(0, MAX_REASONS_NAMED).map((cluster, i) => `${cluster.id || '(no ID)'}: ${failures[i].reason}`);
      const more = clusters.length > MAX_REASONS_NAMED ? `; and ${clusters.length - MAX_REASONS_NAMED} more` : '';
      const reasons = `${named.join('; ')}${more}`;
      const unanswered = failures.filter((failure) => failure instanceof VerifierUnavailable).length;
      if (unanswered > 0) {
        throw new VerifierUnavailable(
          `no known cluster accepted the token and ${unanswered} of ${clusters.length} did not answer (${reasons})`,
        );
      }
      const summary = `token rejected by all ${clusters.length} known clusters (${reasons})`;
      throw failures.some((failure) => failure instanceof TokenUnverifiable) ? new TokenUnverifiable(summary) : new TokenRejected(summary);
    }
  }

  private remember(key: string, { identity, cluster }: Accepted): void {
    const expiresAtMs = identity.expiresAtMs ?? this.options.clock.now() + (this.options.defaultTtlMs ?? 60_000);
    const max = this.options.maxCacheEntries ?? 10_000;
    if (this.cache.size >= max) {
      for (const [k, entry] of this.cache) if (entry.expiresAtMs <= this.options.clock.now()) this.cache.delete(k);
      // Still full: drop the oldest insertion (Map keeps insertion order).
      while (this.cache.size >= max) this.cache.delete(this.cache.keys().next().value as string);
    }
    this.cache.set(key, { identity, expiresAtMs, cluster });
  }
}

/** What one cluster's review failed with; anything unexpected is "no verdict", never echoed. */
function asVerdict(err: unknown): TokenRejected | VerifierUnavailable {
  if (err instanceof TokenRejected || err instanceof VerifierUnavailable) return err;
  return new TokenUnverifiable('token could not be verified');
}

function singleCluster({ kubeConfig, audiences, onReview, timeoutMs }: TokenReviewVerifierOptions): AuthClusters {
  if (!kubeConfig) throw new Error('TokenReviewVerifier needs clusters or a kubeConfig');
  const clusters = new AuthClusters({ maxClusters: 1 });
  const reviewer = new ClusterTokenReview({ clusterId: '', kubeConfig, audiences, onReview, timeoutMs });
  clusters.set({ id: '', source: 'static', origin: 'AUTH_KUBECONFIG', reviewer });
  return clusters;
}
