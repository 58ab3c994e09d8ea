import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../common/clock.js';
import { ExpiringEntries } from './expiring-entries.js';

describe('ExpiringEntries', () => {
  it('returns a value until its own expiry, then forgets it', () => {
    const clock = new ManualClock(1_000);
    const sut = new ExpiringEntries<string>(10, clock);
    sut.set('a', 'first', 1_500);
    sut.set('b', 'second', 3_000);
    expect(sut.get('a')).toBe('first');
    clock.advance(500);
    expect(sut.get('a')).toBeUndefined();
    expect(sut.get('b')).toBe('second');
    expect([...sut.keys()]).toEqual(['b']);
  });

  it('never holds more than maxEntries: 25 keys into 10 keep the newest 10', () => {
    const clock = new ManualClock();
    const sut = new ExpiringEntries<number>(10, clock);
    for (let i = 0; i < 25; i++) sut.set(`k${i}`, i, 1_000);
    expect(sut.size).toBe(10);
    expect([...sut.keys()]).toEqual(Array.from({ length: 10 }, (_, i) => `k${i + 15}`));
  });

  it('drops expired entries at the front when adding, and moves a re-added key to the back', () => {
    const clock = new ManualClock();
    const sut = new ExpiringEntries<number>(10, clock);
    sut.set('old', 1, 100);
    sut.set('kept', 2, 1_000);
    sut.set('old2', 3, 100);
    clock.advance(200);
    sut.set('kept', 4, 1_000);
    sut.set('new', 5, 1_000);
    expect([...sut.keys()]).toEqual(['kept', 'new']);
    expect(sut.get('kept')).toBe(4);
  });

  it('keeps nothing with maxEntries 0', () => {
    const sut = new ExpiringEntries<number>(0, new ManualClock());
    sut.set('a', 1, 1_000);
    expect(sut.size).toBe(0);
  });
});
