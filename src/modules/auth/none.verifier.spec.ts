import { describe, expect, it } from 'vitest';
import { NoneVerifier } from './none.verifier.js';

describe('NoneVerifier', () => {
  const sut = new NoneVerifier();

  it('names its mode, so the guard skips the authorization metadata', () => {
    expect(sut.mode).toBe('none');
  });

  it('accepts anything, even no token, as the unverified caller', async () => {
    await expect(sut.verify()).resolves.toEqual({ subject: 'unverified' });
  });
});
