import { beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../common/clock.js';
import { RejectedTokens } from './rejected-tokens.js';

describe('RejectedTokens', () => {
  let clock: ManualClock;
  beforeEach(() => {
    clock = new ManualClock(1_000_000);
  });
  const rejected = (options: { ttlMs?: number; maxEntries?: number } = {}) =>
    new RejectedTokens({ ttlMs: 10_000, maxEntries: 100, clock, ...options });

  it('recalls a rejection for ttlMs, then forgets it', () => {
    const sut = rejected();
    sut.remember('a', 'token rejected', 0);
    clock.advance(9_999);
    expect(sut.recall('a', 0)).toBe('token rejected');
    clock.advance(1);
    expect(sut.recall('a', 0)).toBeUndefined();
    expect(sut.size).toBe(0);
  });

  it('forgets a rejection made by another set of clusters', () => {
    const sut = rejected();
    sut.remember('a', 'token rejected', 1);
    expect(sut.recall('a', 2)).toBeUndefined();
    expect(sut.recall('a', 1)).toBeUndefined(); // dropped on the stale recall
  });

  it('never holds more than maxEntries, dropping the oldest first', () => {
    const sut = rejected({ maxEntries: 50 });
    for (let i = 0; i < 60; i++) sut.remember(`t${i}`, `reason ${i}`, 0);
    expect(sut.size).toBe(50);
    expect(sut.recall('t9', 0)).toBeUndefined();
    expect(sut.recall('t10', 0)).toBe('reason 10');
    expect(sut.recall('t59', 0)).toBe('reason 59');
  });

  it('lets go of expired entries as new ones come, full or not', () => {
    const sut = rejected();
    sut.remember('a', 'x', 0);
    sut.remember('b', 'x', 0);
    clock.advance(10_000);
    sut.remember('c', 'x', 0);
    expect(sut.size).toBe(1);
  });

  it('remembers nothing with ttlMs 0', () => {
    const sut = rejected({ ttlMs: 0 });
    sut.remember('a', 'x', 0);
    expect(sut.size).toBe(0);
  });
});
