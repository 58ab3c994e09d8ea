import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { call, guardHarness, rejection, ScriptedVerifier, SRE, TOKEN } from '../../../test/kit/jwt-guard-harness.js';
import { identityFromSubject } from './caller-identity.js';

// Verified callers the guard still refuses (PERMISSION_DENIED): not on the allow lists, or claiming a
// clusterid other than the cluster that accepted their token.

describe('JwtGuard', () => {
  const harness = guardHarness();
  const { guard, verifications } = harness;

  describe('with AUTH_ALLOWED_NAMESPACES / AUTH_ALLOWED_SUBJECTS', () => {
    const allowLists = { AUTH_ALLOWED_NAMESPACES: 'istio-system,ops', AUTH_ALLOWED_SUBJECTS: 'system:serviceaccount:ci:deployer' };
    const as = (subject: string) => new ScriptedVerifier('tokenreview', () => Promise.resolve(identityFromSubject(subject)));

    it.each([['system:serviceaccount:ops:sre'], ['system:serviceaccount:ci:deployer']])('lets %s through', async (subject) => {
      await expect(guard(as(subject), allowLists).canActivate(call(`Bearer ${TOKEN}`).context)).resolves.toBe(true);
    });

    it.each([['system:serviceaccount:default:intruder'], ['alice@example.com']])(
      'throws PERMISSION_DENIED for %s, naming the caller',
      async (subject) => {
        const { metadata, context } = call(`Bearer ${TOKEN}`);
        const error = await rejection(guard(as(subject), allowLists).canActivate(context));
        expect(error).toEqual({
          code: status.PERMISSION_DENIED,
          message: `caller ${subject} is not allowed by AUTH_ALLOWED_NAMESPACES/AUTH_ALLOWED_SUBJECTS`,
        });
        expect(harness.identities.get(metadata)).toBeUndefined();
        expect(await verifications('permission_denied')).toBe(1);
      },
    );
  });

  describe('clusterid of a caller whose token a known cluster accepted', () => {
    const WEST = { ...SRE, clusterId: 'west' };
    const withClusterId = (...clusterIds: string[]) => {
      const { metadata, context } = call(`Bearer ${TOKEN}`);
      for (const clusterId of clusterIds) metadata.add('clusterid', clusterId);
      return { metadata, context };
    };

    it.each([[[]], [['west']]])('lets the caller through with clusterid %j', async (clusterIds) => {
      const { metadata, context } = withClusterId(...clusterIds);
      await expect(guard(new ScriptedVerifier('tokenreview', () => Promise.resolve(WEST))).canActivate(context)).resolves.toBe(true);
      expect(harness.identities.get(metadata)).toEqual(WEST);
    });

    it.each([[['east']], [['west', 'east']]])('throws PERMISSION_DENIED naming both clusters for clusterid %j', async (clusterIds) => {
      const { metadata, context } = withClusterId(...clusterIds);
      const error = await rejection(guard(new ScriptedVerifier('tokenreview', () => Promise.resolve(WEST))).canActivate(context));
      expect(error).toEqual({
        code: status.PERMISSION_DENIED,
        message: 'clusterid "east" does not match the cluster "west" that issued the token',
      });
      expect(harness.identities.get(metadata)).toBeUndefined();
      expect(await verifications('permission_denied')).toBe(1);
    });

    it('leaves any clusterid alone when the verifier knows no cluster (jwks, none, AUTH_CLUSTER_ID unset)', async () => {
      const { context } = withClusterId('east');
      await expect(guard(new ScriptedVerifier('jwks', () => Promise.resolve(SRE))).canActivate(context)).resolves.toBe(true);
    });
  });
});
