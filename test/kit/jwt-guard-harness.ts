import { Metadata, status } from '@grpc/grpc-js';
import { Logger } from '@nestjs/common';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host.js';
import { RpcException } from '@nestjs/microservices';
import { expect } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { CallerIdentities } from '../../src/modules/auth/caller-identities.js';
import { CallerIdentity, identityFromSubject } from '../../src/modules/auth/caller-identity.js';
import { JwtGuard } from '../../src/modules/auth/jwt.guard.js';
import { TokenVerifier } from '../../src/modules/auth/token-verifier.js';
import { VerificationSlots } from '../../src/modules/auth/verification-slots.js';
import { MetricsService } from '../../src/modules/metrics/metrics.service.js';
import { captureLogs, LogCapture } from './log-capture.js';
import { renewBeforeEach } from './renew-before-each.js';

// What the JwtGuard specs (src/modules/auth/jwt.guard*.spec.ts) share: a scripted verifier, counted
// stream slots, a call's metadata and context, and a guard built on fresh collaborators per test.

export const TOKEN = 'header.payload.signature';
export const SRE = identityFromSubject('system:serviceaccount:ops:sre');

/** The verifier edge, replaced: answers (or fails) as the test says and records what it was asked. */
export class ScriptedVerifier extends TokenVerifier {
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
export class CountedSlots extends VerificationSlots {
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

/** A call's metadata (with `authorization` when given) and the rpc context the guard reads it from. */
export function call(authorization?: string): { metadata: Metadata; context: ExecutionContextHost } {
  const metadata = new Metadata();
  if (authorization !== undefined) metadata.set('authorization', authorization);
  const context = new ExecutionContextHost([{}, metadata, {}]);
  context.setType('rpc');
  return { metadata, context };
}

/** The RpcException payload the guard threw; fails the test if it returned instead. */
export async function rejection(pending: Promise<boolean>): Promise<{ code: status; message: string }> {
  const outcome: unknown = await pending.then(
    (value) => ({ returned: value }),
    (err: unknown) => err,
  );
  expect(outcome).toBeInstanceOf(RpcException);
  return (outcome as RpcException).getError() as { code: status; message: string };
}

export interface GuardHarness {
  /** The proxy's logger, in memory: checked for what it must not say. */
  readonly logs: LogCapture;
  /** Fresh per test. */
  readonly identities: CallerIdentities;
  /** Fresh per test (10 slots); a test may replace it before building its guard. */
  slots: CountedSlots;
  /** A guard over `verifier` with a static-discovery config plus `env`. */
  readonly guard: (verifier: TokenVerifier, env?: Record<string, string>) => JwtGuard;
  /** token_verifications_total{result} so far. */
  readonly verifications: (result: string) => Promise<number>;
}

/** Call inside a describe(): installs the captured logger and renews the guard's collaborators before each test. */
export function guardHarness(): GuardHarness {
  const logs = captureLogs('warn');
  Logger.overrideLogger(logs.logger);
  const harness: GuardHarness & { metrics: MetricsService } = renewBeforeEach(
    {
      logs,
      guard: (verifier: TokenVerifier, env: Record<string, string> = {}) =>
        new JwtGuard(
          verifier,
          harness.identities,
          loadConfig({ DISCOVERY: 'static', ISTIOD_ADDRESSES: 'a=10.0.0.1:15012', UPSTREAM_INSECURE: 'true', ...env }),
          harness.metrics,
          harness.slots,
        ),
      verifications: async (result: string) =>
        (await harness.metrics.tokenVerifications.get()).values.find((v) => v.labels.result === result)?.value ?? 0,
    },
    () => ({ metrics: new MetricsService(), identities: new CallerIdentities(), slots: new CountedSlots() }),
  );
  return harness;
}
