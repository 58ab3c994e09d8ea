import { DiscoveryResponse, anyValueLength } from '../../common/xds-types.js';

/** Bytes held under the budget; resized when the real answers are in, released once when done. */
export interface Reservation {
  readonly bytes: number;
  resize(bytes: number): void;
  release(): void;
}

export interface AnswerBudgetOptions {
  /** MAX_INFLIGHT_ANSWER_BYTES. */
  maxBytes: number;
  /** ANSWER_BUDGET_WAIT_MS: the longest wait for a turn. */
  maxWaitMs: number;
  /** ANSWER_BUDGET_MAX_WAITING: how many may wait at once. */
  maxWaiting: number;
  /** Told whenever the reserved bytes or the number of waiters change (metrics). */
  onChange?: (state: { reservedBytes: number; waiting: number }) => void;
}

/** Why a reservation was refused: it waited ANSWER_BUDGET_WAIT_MS, or ANSWER_BUDGET_MAX_WAITING were already waiting. */
export class AnswerBudgetExhausted extends Error {
  constructor(
    readonly reason: 'timeout' | 'queue_full',
    message: string,
  ) {
    super(message);
    this.name = 'AnswerBudgetExhausted';
  }
}

interface Waiter {
  bytes: number;
  grant(reservation: Reservation): void;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * A byte semaphore over the memory that istiod answers take while a fan-out runs. Turns are
 * first come, first served. A reservation larger than the whole budget still runs, alone, so
 * nothing can wait forever. Waiting is bounded in time and in number of waiters.
 */
export class AnswerBudget {
  private reserved = 0;
  private holders = 0;
  private readonly queue: Waiter[] = [];

  constructor(private readonly options: AnswerBudgetOptions) {}

  get reservedBytes(): number {
    return this.reserved;
  }

  get waiting(): number {
    return this.queue.length;
  }

  /**
   * Asks for `bytes`: `grant` is called (maybe at once) with the reservation, or `refuse` with an
   * AnswerBudgetExhausted. The returned function withdraws a request still waiting; once granted,
   * release the reservation instead.
   */
  request(bytes: number, grant: (reservation: Reservation) => void, refuse: (error: AnswerBudgetExhausted) => void): () => void {
    const wanted = Math.max(0, Math.ceil(bytes));
    if (this.queue.length === 0 && this.fits(wanted)) {
      grant(this.reserve(wanted));
      return () => undefined;
    }
    const { maxWaiting, maxWaitMs, maxBytes } = this.options;
    if (this.queue.length >= maxWaiting) {
      refuse(
        new AnswerBudgetExhausted(
          'queue_full',
          `answer memory exhausted: ${this.queue.length} requests already wait for MAX_INFLIGHT_ANSWER_BYTES=${maxBytes} ` +
            `(ANSWER_BUDGET_MAX_WAITING=${maxWaiting}); retry later`,
        ),
      );
      return () => undefined;
    }
    const waiter: Waiter = {
      bytes: wanted,
      grant,
      timer: setTimeout(() => {
        this.withdraw(waiter);
        refuse(
          new AnswerBudgetExhausted(
            'timeout',
            `answer memory exhausted: waited ${maxWaitMs} ms (ANSWER_BUDGET_WAIT_MS) for ${wanted} bytes of ` +
              `MAX_INFLIGHT_ANSWER_BYTES=${maxBytes}, ${this.reserved} bytes held by running fan-outs; retry later`,
          ),
        );
      }, maxWaitMs),
    };
    this.queue.push(waiter);
    this.changed();
    return () => this.withdraw(waiter);
  }

  private fits(bytes: number): boolean {
    return this.holders === 0 || this.reserved + bytes <= this.options.maxBytes;
  }

  private reserve(bytes: number): Reservation {
    this.holders++;
    this.reserved += bytes;
    let held = bytes;
    let released = false;
    const reservation: Reservation = {
      get bytes() {
        return held;
      },
      resize: (next: number) => {
        if (released) return;
        const size = Math.max(0, Math.ceil(next));
        this.reserved += size - held;
        held = size;
        this.admit();
      },
      release: () => {
        if (released) return;
        released = true;
        this.holders--;
        this.reserved -= held;
        held = 0;
        this.admit();
      },
    };
    this.changed();
    return reservation;
  }

  /** Grants waiting requests in order for as long as the head fits. */
  private admit(): void {
    while (this.queue.length > 0 && this.fits(this.queue[0].bytes)) {
      const next = this.queue.shift()!;
      clearTimeout(next.timer);
      next.grant(this.reserve(next.bytes));
    }
    this.changed();
  }

  private withdraw(waiter: Waiter): void {
    const index = this.queue.indexOf(waiter);
    if (index < 0) return;
    clearTimeout(waiter.timer);
    this.queue.splice(index, 1);
    // The head may have been the one that did not fit.
    if (index === 0) this.admit();
    else this.changed();
  }

  private changed(): void {
    this.options.onChange?.({ reservedBytes: this.reserved, waiting: this.queue.length });
  }
}

/** Fixed per-message cost on top of the payload (field tags, lengths, small strings). */
const MESSAGE_OVERHEAD_BYTES = 256;

/** What a DiscoveryResponse holds in memory, roughly: its payload bytes and strings. */
export function responseBytes(response: DiscoveryResponse): number {
  let bytes = MESSAGE_OVERHEAD_BYTES + response.version_info.length + response.nonce.length;
  bytes += response.control_plane?.identifier.length ?? 0;
  for (const resource of response.resources) bytes += anyValueLength(resource) + resource.type_url.length + 16;
  return bytes;
}
