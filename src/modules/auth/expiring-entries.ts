import { Clock } from '../../common/clock.js';

/**
 * Token verdicts kept by a hash of the token (never the token), each until its own expiry, at most
 * `maxEntries` at once. Insertion order is eviction order: when an entry is added, those at the front
 * go while they are expired or the map is full; a re-added key moves to the back.
 */
export class ExpiringEntries<V> {
  private readonly entries = new Map<string, { value: V; expiresAtMs: number }>();

  constructor(
    private readonly maxEntries: number,
    private readonly clock: Clock,
  ) {}

  /** The value while it has not expired; an expired entry is dropped. */
  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAtMs > this.clock.now()) return entry.value;
    this.entries.delete(key);
    return undefined;
  }

  set(key: string, value: V, expiresAtMs: number): void {
    if (this.maxEntries <= 0) return;
    const now = this.clock.now();
    this.entries.delete(key); // re-added last
    for (const [oldest, entry] of this.entries) {
      if (entry.expiresAtMs > now && this.entries.size < this.maxEntries) break;
      this.entries.delete(oldest);
    }
    this.entries.set(key, { value, expiresAtMs });
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  /** The keys held (token hashes), oldest first. */
  keys(): IterableIterator<string> {
    return this.entries.keys();
  }

  get size(): number {
    return this.entries.size;
  }
}
