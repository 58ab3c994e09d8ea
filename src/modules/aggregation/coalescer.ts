import { createHash } from 'node:crypto';
import { Observable, ReplaySubject, defer, finalize, of, share, tap } from 'rxjs';
import { ResponseCache, ResponseCacheOptions } from './response-cache.js';

export interface CoalescerOptions<T> extends Partial<ResponseCacheOptions> {
  /** What a value takes in memory, for the cache's byte bound. */
  sizeOf?: (value: T) => number;
}

/**
 * Lets identical concurrent requests share one fan-out: the first caller's work is shared with
 * every later caller of the same key while it runs. A flight lands (stops taking joiners) at its
 * first value, error or cancellation, so nobody joins finished work and starts it again by
 * accident. With a cache TTL > 0, a completed answer is also reused for that long (bounded in
 * bytes). Errors are shared with the waiting callers, never cached.
 */
export class Coalescer<T> {
  private readonly inFlight = new Map<string, Observable<T>>();
  private readonly cache: ResponseCache<T>;
  private readonly sizeOf: (value: T) => number;

  constructor({ sizeOf = () => 0, ttlMs = 0, maxBytes = Number.MAX_SAFE_INTEGER, now = Date.now, onSize }: CoalescerOptions<T> = {}) {
    this.cache = new ResponseCache<T>({ ttlMs, maxBytes, now, onSize });
    this.sizeOf = sizeOf;
  }

  /**
   * Lazy: on subscription, `work` starts unless a flight of the key is running (joined) or its
   * answer is cached. `onJoin` is told, at subscription, when this caller joined one of those.
   */
  run(key: string, work: () => Observable<T>, onJoin: () => void): Observable<T> {
    return defer(() => {
      const cached = this.cache.get(key);
      if (cached !== undefined) {
        onJoin();
        return of(cached);
      }
      const running = this.inFlight.get(key);
      if (running) {
        onJoin();
        return running;
      }
      return this.start(key, work);
    });
  }

  /** Drops the cache and its timer. */
  close(): void {
    this.cache.clear();
  }

  private start(key: string, work: () => Observable<T>): Observable<T> {
    const land = () => {
      if (this.inFlight.get(key) === flight) this.inFlight.delete(key);
    };
    const flight: Observable<T> = defer(work).pipe(
      tap({
        next: (value) => {
          land();
          this.cache.set(key, value, this.sizeOf(value));
        },
        error: land,
        complete: land,
      }),
      // Every caller leaving cancels the work, and it must not be joined any more.
      finalize(land),
      // A caller joining between the value and completion still gets the value.
      share({ connector: () => new ReplaySubject<T>(1) }),
    );
    this.inFlight.set(key, flight);
    return flight;
  }
}

/**
 * A digest of the key's parts in canonical form: object keys sorted at every depth, so two encodings
 * of one request (Go and Python encoders emit protobuf map entries, e.g. a Struct's fields, in random
 * order) give the same key. Array order is kept: it is part of what was asked.
 */
export function coalescingKey(parts: unknown[]): string {
  return createHash('sha256')
    .update(JSON.stringify(canonical(parts)))
    .digest('base64url');
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
  if (value === null || typeof value !== 'object') return value;
  const record = value as Record<string, unknown>;
  // No prototype: a caller's key named __proto__ stays an ordinary key.
  const sorted = Object.create(null) as Record<string, unknown>;
  for (const key of Object.keys(record).sort()) sorted[key] = canonical(record[key]);
  return sorted;
}
