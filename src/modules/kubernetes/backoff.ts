export const BASE_RECONNECT_DELAY_MS = 1_000;
export const MAX_RECONNECT_DELAY_MS = 30_000;

export interface BackoffOptions {
  initialMs?: number;
  maxMs?: number;
  /** Injectable for tests; returns [0, 1). */
  random?: () => number;
}

/** Exponential backoff with jitter: each delay is between half and all of min(max, initial * 2^n). */
export class Backoff {
  private attempt = 0;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly random: () => number;

  constructor({ initialMs = BASE_RECONNECT_DELAY_MS, maxMs = MAX_RECONNECT_DELAY_MS, random = Math.random }: BackoffOptions = {}) {
    this.initialMs = initialMs;
    this.maxMs = maxMs;
    this.random = random;
  }

  next(): number {
    const ceiling = Math.min(this.maxMs, this.initialMs * 2 ** this.attempt);
    this.attempt++;
    return Math.round(ceiling / 2 + (ceiling / 2) * this.random());
  }

  reset(): void {
    this.attempt = 0;
  }

  get attempts(): number {
    return this.attempt;
  }
}
