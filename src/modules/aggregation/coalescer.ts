import { createHash } from 'node:crypto';
import { Observable, finalize, of, share, tap } from 'rxjs';

interface CachedValue<T> {
  value: T;
  expiresAtMs: number;
}

/**
 * Lets identical concurrent requests share one fan-out: the first caller's work is shared with
 * every later caller of the same key until it completes. With a cache window > 0, a completed
 * answer is also reused for that long. Errors are shared with the waiting callers, never cached.
 */
export class Coalescer<T> {
  private readonly inFlight = new Map<string, Observable<T>>();
  private readonly cache = new Map<string, CachedValue<T>>();

  constructor(
    private readonly cacheMs = 0,
    private readonly now: () => number = Date.now,
  ) {}

  /** `work` runs at most once per key at a time; `onJoin` is told when a caller joined existing work. */
  run(key: string, work: () => Observable<T>, onJoin: () => void): Observable<T> {
    const cached = this.cache.get(key);
    if (cached && cached.expiresAtMs > this.now()) {
      onJoin();
      return of(cached.value);
    }
    const existing = this.inFlight.get(key);
    if (existing) {
      onJoin();
      return existing;
    }
    const shared = work().pipe(
      tap((value) => {
        if (this.cacheMs > 0) this.cache.set(key, { value, expiresAtMs: this.now() + this.cacheMs });
      }),
      finalize(() => {
        if (this.inFlight.get(key) === shared) this.inFlight.delete(key);
      }),
      share(),
    );
    this.inFlight.set(key, shared);
    this.pruneCache();
    return shared;
  }

  private pruneCache(): void {
    if (this.cache.size < 1000) return;
    const now = this.now();
    for (const [key, entry] of this.cache) if (entry.expiresAtMs <= now) this.cache.delete(key);
  }
}

export function coalescingKey(parts: unknown[]): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('base64url');
}
