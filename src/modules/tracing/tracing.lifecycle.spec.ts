import { Metadata } from '@grpc/grpc-js';
import { Logger } from '@nestjs/common';
import { firstValueFrom, of } from 'rxjs';
import { describe, expect, it, vi } from 'vitest';
import { request } from '../../../test/kit/xds-fixtures.js';
import { statsOf } from '../aggregation/aggregate-outcome.js';
import { identityFromSubject } from '../auth/caller-identity.js';
import { NOOP_TRACING_BACKEND } from './tracing-backend.js';
import { SHUTDOWN_FLUSH_MS, Tracing } from './tracing.js';

const SYNCZ = 'istio.io/debug/syncz';
const caller = identityFromSubject('system:serviceaccount:istio-system:default');
const callMetadata = () => new Metadata();

describe('Tracing off', () => {
  it('runs the work as is: no span, no request trace handed to the fan-out', async () => {
    let handed: unknown = 'not called';
    const outcome = await firstValueFrom(
      Tracing.off.traceRequest(request(SYNCZ), { metadata: callMetadata() }, (trace) => {
        handed = trace;
        return of({ coalesced: false, stats: statsOf([]) });
      }),
    );
    expect(handed).toBeUndefined();
    expect(outcome.coalesced).toBe(false);
    expect(Tracing.off.enabled).toBe(false);
    await expect(Tracing.off.traceVerification(callMetadata(), 'jwks', () => Promise.resolve(caller))).resolves.toBe(caller);
  });
});

describe('Tracing at shutdown', () => {
  it('waits at most SHUTDOWN_FLUSH_MS for the last export, and never throws', async () => {
    Logger.overrideLogger(false);
    vi.useFakeTimers();
    try {
      const hung = new Tracing({ ...NOOP_TRACING_BACKEND, enabled: true, shutdown: () => new Promise<void>(() => {}) });
      const done = hung.onApplicationShutdown();
      await vi.advanceTimersByTimeAsync(SHUTDOWN_FLUSH_MS);
      await expect(done).resolves.toBeUndefined();
    } finally {
      vi.useRealTimers();
    }
    const failing = new Tracing({ ...NOOP_TRACING_BACKEND, enabled: true, shutdown: () => Promise.reject(new Error('ECONNREFUSED')) });
    await expect(failing.onApplicationShutdown()).resolves.toBeUndefined();
  });
});
