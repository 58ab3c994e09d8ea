import { status } from '@grpc/grpc-js';
import { rpcError } from './grpc-errors.js';

/** Open-stream limits: overall (MAX_CONCURRENT_STREAMS) and per caller (MAX_STREAMS_PER_CALLER). */
export class StreamLimits {
  private total = 0;
  private readonly perCaller = new Map<string, number>();

  constructor(
    private readonly maxTotal: number,
    private readonly maxPerCaller: number,
  ) {}

  /** Takes a slot for the caller or throws RESOURCE_EXHAUSTED; returns the release function. */
  acquire(caller: string): () => void {
    if (this.total >= this.maxTotal) {
      throw rpcError(
        status.RESOURCE_EXHAUSTED,
        `too many open streams on this proxy (MAX_CONCURRENT_STREAMS=${this.maxTotal}); retry later`,
      );
    }
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

  get open(): number {
    return this.total;
  }
}
