import { Clock } from '../../common/clock.js';
import { ExpiringEntries } from './expiring-entries.js';

export interface RejectedTokensOptions {
  /** TOKEN_REJECT_CACHE_MS: how long a rejection is remembered; 0 remembers none. */
  ttlMs: number;
  /** TOKEN_REJECT_CACHE_SIZE: the most rejections remembered; the oldest go first past it. */
  maxEntries: number;
  clock: Clock;
}

interface Rejection {
  reason: string;
  /** AuthClusters.generation when the clusters were asked. */
  generation: number;
}

/**
 * Definitive rejections, remembered briefly and keyed by a hash of the token (never the token), so
 * the same bad tokens sent again and again are not a TokenReview each. Every entry lives equally
 * long, so insertion order is expiry order: the oldest go first, whether expired or crowded out.
 */
export class RejectedTokens {
  private readonly entries: ExpiringEntries<Rejection>;

  constructor(private readonly options: RejectedTokensOptions) {
    this.entries = new ExpiringEntries(options.maxEntries, options.clock);
  }

  /** The reason the token was refused, while remembered and only by the same set of clusters. */
  recall(key: string, generation: number): string | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.generation === generation) return entry.reason;
    this.entries.delete(key);
    return undefined;
  }

  remember(key: string, reason: string, generation: number): void {
    if (this.options.ttlMs <= 0) return;
    this.entries.set(key, { reason, generation }, this.options.clock.now() + this.options.ttlMs);
  }

  get size(): number {
    return this.entries.size;
  }
}
