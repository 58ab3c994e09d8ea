/** Frames smaller than this are ordinary allocations (Node slices small buffers from its own pool anyway). */
export const MIN_POOLED_FRAME_BYTES = 1024 * 1024;

/** Pooled buffers are allocated in whole MiBs, so answers of similar size fit the same buffer. */
const CAPACITY_STEP = 1024 * 1024;

/**
 * Reusable buffers for large outgoing answers, at most `maxBytes` kept while unused.
 *
 * On a machine where memory touched for the first time is expensive (a page fault per 4 KiB, zeroed by
 * the kernel, measured at ~4 ms per MiB on the bench's VM against 0.03 ms for memory already mapped),
 * writing a 40 MiB answer into fresh memory costs more than everything else the proxy does with it;
 * buffers of 32 MiB and more are mapped fresh for every allocation and unmapped when collected.
 *
 * A buffer is lent by `acquire` and comes back only through `release`, which the transport calls once
 * the connection has taken every byte of the frame (a successful write callback): a frame whose write
 * failed, was cut off or never completed is simply never released, and the garbage collector frees it,
 * so a buffer can never be rewritten while some connection may still read it.
 */
export class FramePool {
  private readonly free: Buffer[] = [];
  private readonly lent = new WeakSet<ArrayBufferLike>();
  private freeBytes = 0;

  constructor(
    readonly maxBytes: number,
    private readonly onSize: (bytes: number) => void = () => undefined,
  ) {}

  /** `size` bytes, from a buffer kept since an earlier answer when one is large enough (the smallest such). */
  acquire(size: number): Buffer {
    if (size < MIN_POOLED_FRAME_BYTES || this.maxBytes <= 0) return Buffer.allocUnsafe(size);
    let best = -1;
    for (let i = 0; i < this.free.length; i++) {
      if (this.free[i].length >= size && (best < 0 || this.free[i].length < this.free[best].length)) best = i;
    }
    let whole: Buffer;
    if (best >= 0) {
      whole = this.free.splice(best, 1)[0];
      this.resize(-whole.length);
    } else {
      whole = Buffer.allocUnsafeSlow(Math.ceil(size / CAPACITY_STEP) * CAPACITY_STEP);
    }
    this.lent.add(whole.buffer);
    return whole.subarray(0, size);
  }

  /**
   * Takes back a frame `acquire` returned (or any view into it), once nothing reads it any more. Kept
   * for reuse when it fits in `maxBytes` (the oldest kept buffers make room); anything else is ignored.
   */
  release(frame: Buffer): void {
    if (!this.lent.has(frame.buffer)) return;
    this.lent.delete(frame.buffer);
    const whole = Buffer.from(frame.buffer, 0, frame.buffer.byteLength);
    if (whole.length > this.maxBytes) return;
    while (this.freeBytes + whole.length > this.maxBytes) this.resize(-this.free.shift()!.length);
    this.free.push(whole);
    this.resize(whole.length);
  }

  /** Bytes held for reuse (at most maxBytes). */
  get bytes(): number {
    return this.freeBytes;
  }

  private resize(delta: number): void {
    this.freeBytes += delta;
    this.onSize(this.freeBytes);
  }
}
