import { describe, expect, it } from 'vitest';
import { call, guardHarness, ScriptedVerifier, SRE, TOKEN } from '../../../test/kit/jwt-guard-harness.js';

// Callers the guard lets through. Refusals: jwt.guard.rejections.spec.ts; allow lists and clusterid:
// jwt.guard.permissions.spec.ts; stream slots: jwt.guard.slots.spec.ts.

describe('JwtGuard', () => {
  const harness = guardHarness();
  const { guard, verifications } = harness;

  it('lets a verified caller through and hands its identity to the handler of the same call', async () => {
    const verifier = new ScriptedVerifier('jwks', () => Promise.resolve(SRE));
    const { metadata, context } = call(`Bearer ${TOKEN}`);
    await expect(guard(verifier).canActivate(context)).resolves.toBe(true);
    expect(verifier.asked).toEqual([TOKEN]);
    expect(harness.identities.get(metadata)).toEqual(SRE);
    expect(await verifications('ok')).toBe(1);
  });

  it('accepts any case of "bearer" and surrounding spaces', async () => {
    const verifier = new ScriptedVerifier('jwks', () => Promise.resolve(SRE));
    await expect(guard(verifier).canActivate(call(`bearer   ${TOKEN}  `).context)).resolves.toBe(true);
    expect(verifier.asked).toEqual([TOKEN]);
  });

  it('AUTH_MODE=none needs no authorization metadata', async () => {
    const verifier = new ScriptedVerifier('none', () => Promise.resolve({ subject: 'unverified' }));
    const { metadata, context } = call();
    await expect(guard(verifier).canActivate(context)).resolves.toBe(true);
    expect(harness.identities.get(metadata)).toEqual({ subject: 'unverified' });
  });
});
