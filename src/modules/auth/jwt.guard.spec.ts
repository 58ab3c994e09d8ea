import { Metadata, status } from '@grpc/grpc-js';
import { Logger } from '@nestjs/common';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host.js';
import { RpcException } from '@nestjs/microservices';
import { beforeEach, describe, expect, it } from 'vitest';
import { captureLogs } from '../../../test/kit/log-capture.js';
import { loadConfig } from '../../config/load-config.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { CallerIdentities } from './caller-identities.js';
import { CallerIdentity, TokenRejected, VerifierUnavailable, identityFromSubject } from './caller-identity.js';
import { JwtGuard, MISSING_TOKEN_MESSAGE } from './jwt.guard.js';
import { TokenVerifier } from './token-verifier.js';
import { VerificationSlots } from './verification-slots.js';

const TOKEN = 'header.payload.signature';
const SRE = identityFromSubject('system:serviceaccount:ops:sre');

/** The verifier edge, replaced: answers (or fails) as the test says and records what it was asked. */
class ScriptedVerifier extends TokenVerifier {
  readonly asked: string[] = [];
  constructor(
    readonly mode: string,
    private readonly answer: () => Promise<CallerIdentity>,
  ) {
    super();
  }
  verify(token: string): Promise<CallerIdentity> {
    this.asked.push(token);
    return this.answer();
  }
}

/** The stream limits' side the guard sees: `max` slots, counted. */
class CountedSlots extends VerificationSlots {
  held = 0;
  constructor(private readonly max = 10) {
    super();
  }
  acquirePending(): () => void {
    if (this.held >= this.max) throw new RpcException({ code: status.RESOURCE_EXHAUSTED, message: 'no slot' });
    this.held++;
    let released = false;
    return () => {
      if (!released) this.held--;
      released = true;
    };
  }
}

function call(authorization?: string): { metadata: Metadata; context: ExecutionContextHost } {
  const metadata = new Metadata();
  if (authorization !== undefined) metadata.set('authorization', authorization);
  const context = new ExecutionContextHost([{}, metadata, {}]);
  context.setType('rpc');
  return { metadata, context };
}

/** The RpcException payload the guard threw; fails the test if it returned instead. */
async function rejection(pending: Promise<boolean>): Promise<{ code: status; message: string }> {
  const outcome: unknown = await pending.then(
    (value) => ({ returned: value }),
    (err: unknown) => err,
  );
  expect(outcome).toBeInstanceOf(RpcException);
  return (outcome as RpcException).getError() as { code: status; message: string };
}

describe('JwtGuard', () => {
  const logs = captureLogs('warn'); // the proxy's logger, in memory: checked for what it must not say
  Logger.overrideLogger(logs.logger);
  let metrics: MetricsService;
  let identities: CallerIdentities;
  let slots: CountedSlots;
  beforeEach(() => {
    metrics = new MetricsService();
    identities = new CallerIdentities();
    slots = new CountedSlots();
  });

  const guard = (verifier: TokenVerifier, env: Record<string, string> = {}) =>
    new JwtGuard(
      verifier,
      identities,
      loadConfig({ DISCOVERY: 'static', ISTIOD_ADDRESSES: 'a=10.0.0.1:15012', UPSTREAM_INSECURE: 'true', ...env }),
      metrics,
      slots,
    );
  const verifications = async (result: string) =>
    (await metrics.tokenVerifications.get()).values.find((v) => v.labels.result === result)?.value ?? 0;

  it('lets a verified caller through and hands its identity to the handler of the same call', async () => {
    const verifier = new ScriptedVerifier('jwks', () => Promise.resolve(SRE));
    const { metadata, context } = call(`Bearer ${TOKEN}`);
    await expect(guard(verifier).canActivate(context)).resolves.toBe(true);
    expect(verifier.asked).toEqual([TOKEN]);
    expect(identities.get(metadata)).toEqual(SRE);
    expect(await verifications('ok')).toBe(1);
  });

  it('accepts any case of "bearer" and surrounding spaces', async () => {
    const verifier = new ScriptedVerifier('jwks', () => Promise.resolve(SRE));
    await expect(guard(verifier).canActivate(call(`bearer   ${TOKEN}  `).context)).resolves.toBe(true);
    expect(verifier.asked).toEqual([TOKEN]);
  });

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
    expect(identities.get(metadata)).toBeUndefined();
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
      expect(slots.held).toBe(1);
      settle('accept');
      await accepted;
      expect(slots.held).toBe(0);
      const rejected = rejection(sut.canActivate(call(`Bearer ${TOKEN}`).context));
      expect(slots.held).toBe(1);
      settle('reject');
      await rejected;
      expect(slots.held).toBe(0);
    });

    it('refuses a call with the slots error when none is free, asking no verifier', async () => {
      slots = new CountedSlots(0);
      const verifier = new ScriptedVerifier('tokenreview', () => Promise.resolve(SRE));
      const error = await rejection(guard(verifier).canActivate(call(`Bearer ${TOKEN}`).context));
      expect(error).toEqual({ code: status.RESOURCE_EXHAUSTED, message: 'no slot' });
      expect(verifier.asked).toEqual([]);
    });

    it('takes no slot when there is nothing to verify (no token, AUTH_MODE=none)', async () => {
      slots = new CountedSlots(0);
      const missing = await rejection(guard(new ScriptedVerifier('jwks', () => Promise.resolve(SRE))).canActivate(call().context));
      expect(missing.code).toBe(status.UNAUTHENTICATED);
      const none = new ScriptedVerifier('none', () => Promise.resolve({ subject: 'unverified' }));
      await expect(guard(none).canActivate(call().context)).resolves.toBe(true);
    });
  });

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
        expect(identities.get(metadata)).toBeUndefined();
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
      expect(identities.get(metadata)).toEqual(WEST);
    });

    it.each([[['east']], [['west', 'east']]])('throws PERMISSION_DENIED naming both clusters for clusterid %j', async (clusterIds) => {
      const { metadata, context } = withClusterId(...clusterIds);
      const error = await rejection(guard(new ScriptedVerifier('tokenreview', () => Promise.resolve(WEST))).canActivate(context));
      expect(error).toEqual({
        code: status.PERMISSION_DENIED,
        message: 'clusterid "east" does not match the cluster "west" that issued the token',
      });
      expect(identities.get(metadata)).toBeUndefined();
      expect(await verifications('permission_denied')).toBe(1);
    });

    it('leaves any clusterid alone when the verifier knows no cluster (jwks, none, AUTH_CLUSTER_ID unset)', async () => {
      const { context } = withClusterId('east');
      await expect(guard(new ScriptedVerifier('jwks', () => Promise.resolve(SRE))).canActivate(context)).resolves.toBe(true);
    });
  });

  it('AUTH_MODE=none needs no authorization metadata', async () => {
    const verifier = new ScriptedVerifier('none', () => Promise.resolve({ subject: 'unverified' }));
    const { metadata, context } = call();
    await expect(guard(verifier).canActivate(context)).resolves.toBe(true);
    expect(identities.get(metadata)).toEqual({ subject: 'unverified' });
  });
});
