import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { call, guardHarness, rejection, ScriptedVerifier, SRE, TOKEN } from '../../../test/kit/jwt-guard-harness.js';
import { TokenRejected, VerifierUnavailable } from './caller-identity.js';
import { MISSING_TOKEN_MESSAGE } from './jwt.guard.js';

// Callers the guard refuses before any authorization: no token, a malformed one, one the verifier
// rejects, or a verifier that fails or does not answer.

describe('JwtGuard', () => {
  const harness = guardHarness();
  const { guard, logs, verifications } = harness;

  it.each([
    ['no authorization metadata', undefined],
    ['an empty authorization', ''],
  ])('throws UNAUTHENTICATED with the istioctl hint for %s, asking no verifier', async (_, header) => {
    const verifier = new ScriptedVerifier('tokenreview', () => Promise.resolve(SRE));
    const error = await rejection(guard(verifier).canActivate(call(header).context));
    expect(error).toEqual({ code: status.UNAUTHENTICATED, message: MISSING_TOKEN_MESSAGE });
    expect(verifier.asked).toEqual([]);
    expect(await verifications('unauthenticated')).toBe(1);
  });

  it.each([['Basic dXNlcjpwYXNz'], ['Bearer'], [`Bearer ${TOKEN} extra`], [TOKEN]])(
    'throws UNAUTHENTICATED for the non-Bearer authorization %j',
    async (header) => {
      const verifier = new ScriptedVerifier('tokenreview', () => Promise.resolve(SRE));
      const error = await rejection(guard(verifier).canActivate(call(header).context));
      expect(error).toEqual({
        code: status.UNAUTHENTICATED,
        message: 'malformed "authorization" metadata: expected "Bearer <token>"',
      });
      expect(verifier.asked).toEqual([]);
    },
  );

  it('throws UNAUTHENTICATED naming the failed check when the verifier rejects the token', async () => {
    const verifier = new ScriptedVerifier('jwks', () => Promise.reject(new TokenRejected('token expired')));
    const { metadata, context } = call(`Bearer ${TOKEN}`);
    const error = await rejection(guard(verifier).canActivate(context));
    expect(error).toEqual({ code: status.UNAUTHENTICATED, message: 'authentication failed: token expired' });
    expect(harness.identities.get(metadata)).toBeUndefined();
  });

  it('does not pass on the text of an unexpected verifier failure', async () => {
    const verifier = new ScriptedVerifier('jwks', () => Promise.reject(new Error(`socket hang up while sending ${TOKEN}`)));
    const error = await rejection(guard(verifier).canActivate(call(`Bearer ${TOKEN}`).context));
    expect(error).toEqual({ code: status.UNAUTHENTICATED, message: 'authentication failed: token could not be verified' });
    expect(logs.withMessage('rejected a call: authentication failed: token could not be verified')).toHaveLength(1);
    expect(logs.raw.join('')).not.toContain(TOKEN);
  });

  it('throws UNAVAILABLE naming the verifier that did not answer, not UNAUTHENTICATED', async () => {
    const reason = 'TokenReview at https://10.0.0.1:6443 (cluster east) did not answer within 5000 ms (TOKENREVIEW_TIMEOUT_MS)';
    const verifier = new ScriptedVerifier('tokenreview', () => Promise.reject(new VerifierUnavailable(reason)));
    const error = await rejection(guard(verifier).canActivate(call(`Bearer ${TOKEN}`).context));
    expect(error).toEqual({ code: status.UNAVAILABLE, message: `token verification unavailable: ${reason}` });
    expect(await verifications('unavailable')).toBe(1);
  });
});
