import { describe, expect, it } from 'vitest';
import { Backoff } from './backoff.js';

describe('Backoff', () => {
  it('doubles from 1 s to a 30 s ceiling, jittered between half and all of it', () => {
    const low = new Backoff({ random: () => 0 });
    const high = new Backoff({ random: () => 0.999999 });
    expect(Array.from({ length: 7 }, () => low.next())).toEqual([500, 1000, 2000, 4000, 8000, 15000, 15000]);
    expect(Array.from({ length: 7 }, () => high.next())).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000]);
  });

  it('starts over after reset', () => {
    const sut = new Backoff({ initialMs: 10, maxMs: 100, random: () => 0.999999 });
    sut.next();
    sut.next();
    sut.reset();
    expect(sut.next()).toBe(10);
  });
});
