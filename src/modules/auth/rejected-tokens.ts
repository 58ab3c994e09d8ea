import { Clock } from '../../common/clock.js';

export interface RejectedTokensOptions {
  /** TOKEN_REJECT_CACHE_MS: how long a rejection is remembered; 0 remembers none. */
  ttlMs: number;
  /** TOKEN_REJECT_CACHE_SIZE: the most rejections remembered; the oldest go first past it. */
  maxEntries: number;
  clock: Clock;
}

interface Rejection {
  reason: string;
  expiresAtMs: number;
  /** AuthClusters.generation when the clusters were asked. */
  generation: number;
}

/**
 * Definitive rejections, remembered briefly and keyed by a hash of the token (never the token), so
 * the same bad tokens sent again and again are not a TokenReview each. Every entry lives equally
 * long, so insertion order is expiry order: the oldest go first, whether expired or crowded out.
 */
export class RejectedTokens {
  private readonly entries = new Map<string, Rejection>();

  constructor(private readonly options: RejectedTokensOptions) {}

  /** The reason the token was refused, while remembered and only by the same set of clusters. */
  recall(key: string, generation: number): string | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAtMs > this.options.clock.now() && entry.generation === generation) return entry.reason;
    this.entries.delete(key);
    return undefined;
  }

  remember(key: string, reason: string, generation: number): void {
    const { ttlMs, maxEntries, clock } = this.options;
    if (ttlMs <= 0 || maxEntries <= 0) return;
    const now = clock.now();
    this.entries.delete(key); // re-added last, keeping insertion order = expiry order
    for (const [oldest, entry] of this.entries) {
      if (entry.expiresAtMs > now && this.entries.size < maxEntries) break;
      this.entries.delete(oldest);
    }
    this.entries.set(key, { reason, expiresAtMs: now + ttlMs, generation });
  }

  get size(): number {
    return this.entries.size;
  }
}
