/**
 * The time source of every service that compares times (deadlines, health windows, cache expiry).
 * Injected so specs can move time without sleeping; production uses the system clock.
 */
export abstract class Clock {
  /** Milliseconds since the epoch, like Date.now(). */
  abstract now(): number;
}

export class SystemClock extends Clock {
  now(): number {
    return Date.now();
  }
}

/** A clock a spec sets and advances by hand. */
export class ManualClock extends Clock {
  constructor(private current = 0) {
    super();
  }

  now(): number {
    return this.current;
  }

  advance(ms: number): void {
    this.current += ms;
  }
}
