import { afterEach, describe, expect, it, vi } from 'vitest';
import { ResponseCache } from './response-cache.js';

function build(ttlMs: number, maxBytes: number) {
  const sizes: number[] = [];
  const sut = new ResponseCache<string>({ ttlMs, maxBytes, now: () => Date.now(), onSize: (bytes) => sizes.push(bytes) });
  return { sut, sizes };
}

describe('ResponseCache', () => {
  afterEach(() => vi.useRealTimers());

  it('holds entries for the TTL and frees them on a timer, without being asked again', () => {
    vi.useFakeTimers();
    const { sut, sizes } = build(1000, 1 << 20);
    sut.set('a', 'answer-a', 100);
    vi.advanceTimersByTime(400);
    sut.set('b', 'answer-b', 50);
    expect(sut.get('a')).toBe('answer-a');
    expect(sut.size).toBe(150);
    vi.advanceTimersByTime(600); // 'a' expires
    expect(sut.size).toBe(50);
    vi.advanceTimersByTime(400); // 'b' expires
    expect(sut.size).toBe(0);
    expect(sizes.at(-1)).toBe(0);
    expect(sut.get('a')).toBeUndefined();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('evicts the oldest entries past the byte bound and never stores one larger than it', () => {
    vi.useFakeTimers();
    const { sut } = build(60_000, 300);
    for (const key of ['a', 'b', 'c']) sut.set(key, key, 100);
    sut.set('d', 'd', 150);
    expect([sut.get('a'), sut.get('b'), sut.get('c'), sut.get('d')]).toEqual([undefined, undefined, 'c', 'd']);
    expect(sut.size).toBe(250);
    sut.set('huge', 'huge', 301);
    expect(sut.get('huge')).toBeUndefined();
    expect(sut.size).toBe(250);
  });

  it('replacing a key counts its bytes once and renews its lifetime', () => {
    vi.useFakeTimers();
    const { sut } = build(1000, 1000);
    sut.set('a', 'v1', 100);
    vi.advanceTimersByTime(900);
    sut.set('a', 'v2', 200);
    vi.advanceTimersByTime(900);
    expect(sut.get('a')).toBe('v2');
    expect(sut.size).toBe(200);
  });

  it('caches nothing with a TTL of 0, and clear() drops entries and the timer', () => {
    vi.useFakeTimers();
    const off = build(0, 1000).sut;
    off.set('a', 'a', 1);
    expect(off.get('a')).toBeUndefined();
    const { sut } = build(1000, 1000);
    sut.set('a', 'a', 1);
    sut.clear();
    expect([sut.get('a'), sut.size, vi.getTimerCount()]).toEqual([undefined, 0, 0]);
  });
});
