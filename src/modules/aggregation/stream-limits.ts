import { status } from '@grpc/grpc-js';
import { Provider } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../../config/app-config.js';
import { VerificationSlots } from '../auth/verification-slots.js';
import { rpcError } from './grpc-errors.js';

/**
 * Open-stream limits: overall (MAX_CONCURRENT_STREAMS) and per caller (MAX_STREAMS_PER_CALLER).
 * A call whose token is still being verified holds an overall slot too (acquirePending, taken by the
 * guard; its caller is not known yet), so slow verifications cannot pile up calls without bound.
 */
export class StreamLimits implements VerificationSlots {
  private total = 0;
  private verifying = 0;
  private readonly perCaller = new Map<string, number>();

  constructor(
    private readonly maxTotal: number,
    private readonly maxPerCaller: number,
  ) {}

  /** Takes a slot for the caller or throws RESOURCE_EXHAUSTED; returns the release function. */
  acquire(caller: string): () => void {
    this.checkOverall();
    const mine = this.perCaller.get(caller) ?? 0;
    if (mine >= this.maxPerCaller) {
      throw rpcError(status.RESOURCE_EXHAUSTED, `too many open streams for caller ${caller} (MAX_STREAMS_PER_CALLER=${this.maxPerCaller})`);
    }
    this.total++;
    this.perCaller.set(caller, mine + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.total--;
      const left = (this.perCaller.get(caller) ?? 1) - 1;
      if (left <= 0) this.perCaller.delete(caller);
      else this.perCaller.set(caller, left);
    };
  }

  /** An overall slot for a call whose token is being verified; returns the release function. */
  acquirePending(): () => void {
    this.checkOverall();
    this.verifying++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.verifying--;
    };
  }

  get open(): number {
    return this.total;
  }

  /** Slots held by calls whose token is still being verified. */
  get pending(): number {
    return this.verifying;
  }

  private checkOverall(): void {
    if (this.total + this.verifying < this.maxTotal) return;
    const verifying = this.verifying > 0 ? `, ${this.verifying} of them awaiting token verification` : '';
    throw rpcError(
      status.RESOURCE_EXHAUSTED,
      `too many open streams on this proxy (MAX_CONCURRENT_STREAMS=${this.maxTotal}${verifying}); retry later`,
    );
  }
}

/** One StreamLimits per app: the streams' slots, and the guard's VerificationSlots. */
export const streamLimitsProviders: Provider[] = [
  {
    provide: StreamLimits,
    inject: [APP_CONFIG],
    useFactory: (config: AppConfig) => new StreamLimits(config.maxConcurrentStreams, config.maxStreamsPerCaller),
  },
  { provide: VerificationSlots, useExisting: StreamLimits },
];
