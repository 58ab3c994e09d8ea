interface Entry<T> {
  value: T;
  bytes: number;
  expiresAtMs: number;
}

export interface ResponseCacheOptions {
  /** RESPONSE_CACHE_MS: how long an entry is reused; 0 caches nothing. */
  ttlMs: number;
  /** RESPONSE_CACHE_MAX_BYTES: past it the oldest entries are evicted. */
  maxBytes: number;
  now: () => number;
  /** Told the bytes held after every change (metrics). */
  onSize?: (bytes: number) => void;
}

/**
 * Completed answers kept for RESPONSE_CACHE_MS, bounded in bytes. Every entry lives equally long,
 * so insertion order is expiry order: the oldest entry is both the first to expire and the one
 * evicted when a new one does not fit. Expired entries are dropped by a timer set for the oldest
 * one, not only when looked up, so an answer nobody asks for again does not linger.
 */
export class ResponseCache<T> {
  private readonly entries = new Map<string, Entry<T>>();
  private bytes = 0;
  private timer?: ReturnType<typeof setTimeout>;

  constructor(private readonly options: ResponseCacheOptions) {}

  get size(): number {
    return this.bytes;
  }

  get(key: string): T | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAtMs > this.options.now()) return entry.value;
    this.sweep();
    return undefined;
  }

  /** Keeps `value` for the TTL unless it alone exceeds the byte bound. */
  set(key: string, value: T, bytes: number): void {
    const { ttlMs, maxBytes, now } = this.options;
    if (ttlMs <= 0) return;
    this.delete(key);
    if (bytes > maxBytes) {
      this.changed();
      return;
    }
    this.entries.set(key, { value, bytes, expiresAtMs: now() + ttlMs });
    this.bytes += bytes;
    for (const oldest of this.entries.keys()) {
      if (this.bytes <= maxBytes) break;
      this.delete(oldest);
    }
    this.sweep();
  }

  /** Drops every entry and the timer (module shutdown). */
  clear(): void {
    this.entries.clear();
    this.bytes = 0;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.changed();
  }

  private delete(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.bytes -= entry.bytes;
  }

  /** Drops expired entries from the oldest on, then arms the timer for the next expiry. */
  private sweep(): void {
    const now = this.options.now();
    for (const [key, entry] of this.entries) {
      if (entry.expiresAtMs > now) break;
      this.delete(key);
    }
    clearTimeout(this.timer);
    this.timer = undefined;
    const oldest = this.entries.values().next();
    if (!oldest.done) {
      this.timer = setTimeout(() => this.sweep(), Math.max(1, oldest.value.expiresAtMs - now));
      this.timer.unref();
    }
    this.changed();
  }

  private changed(): void {
    this.options.onSize?.(this.bytes);
  }
}
