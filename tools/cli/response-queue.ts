/** How a stream ended: `quiet` ends iteration silently, otherwise iterating rethrows `reason`. */
export class QueueEnd {
  constructor(
    readonly reason: Error,
    readonly quiet: boolean,
  ) {}
}

export const TIMED_OUT: unique symbol = Symbol('timed out');

type Waiter<T> = (result: T | QueueEnd) => void;

/**
 * Push-to-pull bridge between grpc-js 'data' events and awaiting readers. A reader that times out
 * is removed, so the next message goes to the next reader instead of being lost.
 */
export class ResponseQueue<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private readonly waiters: Waiter<T>[] = [];
  private end: QueueEnd | undefined;

  push(item: T): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter(item);
    else this.items.push(item);
  }

  finish(end: QueueEnd): void {
    if (this.end) return;
    this.end = end;
    for (const waiter of this.waiters.splice(0)) waiter(end);
  }

  get ended(): QueueEnd | undefined {
    return this.end;
  }

  /** The next item, the end marker once drained, or TIMED_OUT after `timeoutMs`. */
  shift(timeoutMs?: number): Promise<T | QueueEnd | typeof TIMED_OUT> {
    if (this.items.length > 0) return Promise.resolve(this.items.shift() as T);
    if (this.end) return Promise.resolve(this.end);
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const waiter: Waiter<T> = (result) => {
        if (timer) clearTimeout(timer);
        resolve(result);
      };
      this.waiters.push(waiter);
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          const index = this.waiters.indexOf(waiter);
          if (index >= 0) this.waiters.splice(index, 1);
          resolve(TIMED_OUT);
        }, timeoutMs);
      }
    });
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      const next = await this.shift();
      if (next instanceof QueueEnd) {
        if (next.quiet) return;
        throw next.reason;
      }
      if (next !== TIMED_OUT) yield next;
    }
  }
}
