import { Injectable } from '@nestjs/common';
import { BehaviorSubject, Observable, filter, firstValueFrom, race, timer } from 'rxjs';

/**
 * Shutdown state and in-flight request accounting. On SIGTERM readiness turns 503 at once, new
 * streams are refused, and shutdown waits (bounded) for in-flight requests before closing.
 */
@Injectable()
export class LifecycleService {
  private readonly shuttingDown = new BehaviorSubject(false);
  private readonly inFlight = new BehaviorSubject(0);
  readonly shuttingDown$: Observable<boolean> = this.shuttingDown.asObservable();

  get isShuttingDown(): boolean {
    return this.shuttingDown.value;
  }

  get inFlightRequests(): number {
    return this.inFlight.value;
  }

  beginShutdown(): void {
    this.shuttingDown.next(true);
  }

  requestStarted(): void {
    this.inFlight.next(this.inFlight.value + 1);
  }

  requestFinished(): void {
    this.inFlight.next(Math.max(0, this.inFlight.value - 1));
  }

  /** Resolves true when no request is in flight, false if the timeout came first. */
  async drained(timeoutMs: number): Promise<boolean> {
    const idle$ = this.inFlight.pipe(filter((count) => count === 0));
    const result = await firstValueFrom(race(idle$, timer(timeoutMs).pipe(filter(() => true))));
    return result === 0 && this.inFlight.value === 0;
  }
}
