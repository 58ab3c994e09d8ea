import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { call, CountedSlots, guardHarness, rejection, ScriptedVerifier, SRE, TOKEN } from '../../../test/kit/jwt-guard-harness.js';
import { TokenRejected } from './caller-identity.js';

// A call whose token is being verified holds a stream slot (VerificationSlots), so slow verifications
// count against the stream limits.

describe('JwtGuard', () => {
  const harness = guardHarness();
  const { guard } = harness;

  describe('stream slots of calls whose token is being verified', () => {
    it('holds a slot while the token is verified and gives it back when verification ends, either way', async () => {
      let settle: (outcome: 'accept' | 'reject') => void = () => undefined;
      const verifier = new ScriptedVerifier(
        'tokenreview',
        () =>
          new Promise((resolve, reject) => {
            settle = (outcome) => (outcome === 'accept' ? resolve(SRE) : reject(new TokenRejected('token expired')));
          }),
      );
      const sut = guard(verifier);
      const accepted = sut.canActivate(call(`Bearer ${TOKEN}`).context);
      expect(harness.slots.held).toBe(1);
      settle('accept');
      await accepted;
      expect(harness.slots.held).toBe(0);
      const rejected = rejection(sut.canActivate(call(`Bearer ${TOKEN}`).context));
      expect(harness.slots.held).toBe(1);
      settle('reject');
      await rejected;
      expect(harness.slots.held).toBe(0);
    });

    it('refuses a call with the slots error when none is free, asking no verifier', async () => {
      harness.slots = new CountedSlots(0);
      const verifier = new ScriptedVerifier('tokenreview', () => Promise.resolve(SRE));
      const error = await rejection(guard(verifier).canActivate(call(`Bearer ${TOKEN}`).context));
      expect(error).toEqual({ code: status.RESOURCE_EXHAUSTED, message: 'no slot' });
      expect(verifier.asked).toEqual([]);
    });

    it('takes no slot when there is nothing to verify (no token, AUTH_MODE=none)', async () => {
      harness.slots = new CountedSlots(0);
      const missing = await rejection(guard(new ScriptedVerifier('jwks', () => Promise.resolve(SRE))).canActivate(call().context));
      expect(missing.code).toBe(status.UNAUTHENTICATED);
      const none = new ScriptedVerifier('none', () => Promise.resolve({ subject: 'unverified' }));
      await expect(guard(none).canActivate(call().context)).resolves.toBe(true);
    });
  });
});
