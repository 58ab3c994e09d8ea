import { describe, expect, it } from 'vitest';
import { LiveCopyTally, pickLiveCopy } from './live-copy.js';

const copy = (name: string, stale: boolean, lastUpdatedMs: number) => ({ name, stale, lastUpdatedMs });

describe('pickLiveCopy', () => {
  it('prefers a copy without STALE, even an older one', () => {
    expect(pickLiveCopy([copy('a', true, 9), copy('b', false, 1)])).toEqual({ winner: copy('b', false, 1), rule: 'non-stale' });
  });

  it('then the newest push', () => {
    expect(pickLiveCopy([copy('a', false, 1), copy('b', false, 2)])).toEqual({ winner: copy('b', false, 2), rule: 'newest' });
    expect(pickLiveCopy([copy('a', true, 1), copy('b', true, 2)])).toEqual({ winner: copy('b', true, 2), rule: 'newest' });
  });

  it('then the first replica', () => {
    expect(pickLiveCopy([copy('a', false, 5), copy('b', false, 5)])).toEqual({ winner: copy('a', false, 5), rule: 'first' });
    expect(pickLiveCopy([copy('a', false, 0)])).toMatchObject({ winner: copy('a', false, 0) });
  });

  it('names the rule that beat the closest other copy', () => {
    expect(pickLiveCopy([copy('a', true, 9), copy('b', false, 1), copy('c', false, 2)]).rule).toBe('newest');
    expect(pickLiveCopy([copy('a', false, 2), copy('b', true, 9), copy('c', false, 2)]).rule).toBe('first');
  });
});

describe('LiveCopyTally', () => {
  it('counts only proxies with more than one copy, and says nothing without duplicates', () => {
    const sut = new LiveCopyTally();
    sut.resolve([copy('a', false, 1)]);
    expect(sut.describe('syncz', 'last_updated')).toBeUndefined();
    sut.resolve([copy('a', true, 1), copy('b', false, 1)]);
    sut.resolve([copy('a', false, 1), copy('b', false, 1)]);
    expect(sut.describe('syncz', 'last_updated')).toBe(
      'syncz: 2 proxies reported by more than one istiod: 1 kept the non-STALE copy, 0 kept the newest last_updated, 1 tie → first replica',
    );
  });
});
