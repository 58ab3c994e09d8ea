import { describe, expect, it } from 'vitest';
import { FramePool, MIN_POOLED_FRAME_BYTES } from './frame-pool.js';

const MIB = 1024 * 1024;

describe('FramePool', () => {
  it('lends frames below MIN_POOLED_FRAME_BYTES as ordinary allocations and never keeps them', () => {
    const pool = new FramePool(64 * MIB);
    const frame = pool.acquire(MIN_POOLED_FRAME_BYTES - 1);
    expect(frame.length).toBe(MIN_POOLED_FRAME_BYTES - 1);
    pool.release(frame);
    expect(pool.bytes).toBe(0);
  });

  it('reuses a released buffer for the next frame that fits, in whole MiBs, and lends it to one frame at a time', () => {
    const pool = new FramePool(64 * MIB);
    const first = pool.acquire(3 * MIB + 10);
    expect(first.length).toBe(3 * MIB + 10);
    expect(first.buffer.byteLength).toBe(4 * MIB);
    pool.release(first);
    expect(pool.bytes).toBe(4 * MIB);

    const second = pool.acquire(2 * MIB);
    expect(second.buffer).toBe(first.buffer);
    expect(second.length).toBe(2 * MIB);
    expect(pool.bytes).toBe(0);
    const third = pool.acquire(2 * MIB); // the buffer is lent: a new one
    expect(third.buffer).not.toBe(first.buffer);
  });

  it('takes the smallest kept buffer that fits', () => {
    const pool = new FramePool(64 * MIB);
    const [small, large] = [pool.acquire(2 * MIB), pool.acquire(8 * MIB)];
    pool.release(large);
    pool.release(small);
    expect(pool.acquire(MIB + 1).buffer).toBe(small.buffer);
    expect(pool.acquire(MIB + 1).buffer).toBe(large.buffer);
  });

  it('ignores a frame it did not lend, and a second release of the same frame (a view into it counts as the frame)', () => {
    const pool = new FramePool(64 * MIB);
    pool.release(Buffer.allocUnsafeSlow(2 * MIB));
    expect(pool.bytes).toBe(0);
    const frame = pool.acquire(2 * MIB);
    pool.release(frame.subarray(5));
    pool.release(frame);
    expect(pool.bytes).toBe(2 * MIB);
    pool.acquire(2 * MIB);
    expect(pool.bytes).toBe(0);
  });

  it('keeps at most maxBytes: releasing past the bound drops the oldest kept buffers, and one larger than the bound is not kept', () => {
    const sizes: number[] = [];
    const pool = new FramePool(10 * MIB, (bytes) => sizes.push(bytes));
    const frames = Array.from({ length: 8 }, () => pool.acquire(3 * MIB));
    for (const frame of frames) pool.release(frame);
    expect(pool.bytes).toBe(9 * MIB); // three 3 MiB buffers
    expect(Math.max(...sizes)).toBeLessThanOrEqual(10 * MIB);
    // The newest three are the ones kept.
    const kept = [pool.acquire(3 * MIB), pool.acquire(3 * MIB), pool.acquire(3 * MIB)].map((f) => f.buffer);
    expect(new Set(kept)).toEqual(new Set(frames.slice(-3).map((f) => f.buffer)));

    pool.release(pool.acquire(11 * MIB));
    expect(pool.bytes).toBe(0);
  });

  it('keeps nothing with maxBytes 0 (ANSWER_BUFFER_POOL_BYTES=0)', () => {
    const pool = new FramePool(0);
    const frame = pool.acquire(4 * MIB);
    pool.release(frame);
    expect(pool.bytes).toBe(0);
    expect(pool.acquire(4 * MIB).buffer).not.toBe(frame.buffer);
  });
});
