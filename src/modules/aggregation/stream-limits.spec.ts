import { status } from '@grpc/grpc-js';
import { RpcException } from '@nestjs/microservices';
import { describe, expect, it } from 'vitest';
import { StreamLimits } from './stream-limits.js';

function code(fn: () => unknown): { code: number; message: string } {
  try {
    fn();
  } catch (err) {
    return (err as RpcException).getError() as { code: number; message: string };
  }
  throw new Error('expected a rejection');
}

describe('StreamLimits', () => {
  it('limits streams per caller and overall, naming the variable', () => {
    const sut = new StreamLimits(3, 2);
    const a1 = sut.acquire('alice');
    sut.acquire('alice');
    const perCaller = code(() => sut.acquire('alice'));
    expect(perCaller.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(perCaller.message).toContain('MAX_STREAMS_PER_CALLER=2');
    sut.acquire('bob');
    const overall = code(() => sut.acquire('carol'));
    expect(overall.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(overall.message).toContain('MAX_CONCURRENT_STREAMS=3');
    a1();
    a1(); // releasing twice frees one slot only
    expect(sut.open).toBe(2);
    expect(() => sut.acquire('carol')).not.toThrow();
  });

  it('counts calls whose token is being verified against MAX_CONCURRENT_STREAMS only', () => {
    const sut = new StreamLimits(3, 1);
    const verifying = [sut.acquirePending(), sut.acquirePending()];
    sut.acquire('alice');
    const full = code(() => sut.acquirePending());
    expect(full.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(full.message).toBe(
      'too many open streams on this proxy (MAX_CONCURRENT_STREAMS=3, 2 of them awaiting token verification); retry later',
    );
    expect(code(() => sut.acquire('bob')).message).toContain('MAX_CONCURRENT_STREAMS=3');
    verifying[0]();
    verifying[0](); // releasing twice frees one slot only
    expect(sut.pending).toBe(1);
    expect(() => sut.acquire('bob')).not.toThrow();
    verifying[1]();
    expect([sut.open, sut.pending]).toEqual([2, 0]);
  });
});
