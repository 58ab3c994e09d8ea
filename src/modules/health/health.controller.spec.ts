import 'reflect-metadata';
import { ServiceUnavailableException, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TerminusModule, type HealthCheckResult } from '@nestjs/terminus';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { APP_CONFIG } from '../../config/app-config.js';
import { loadConfig } from '../../config/load-config.js';
import { HealthController, INDICATOR_DEADLINE_MS } from './health.controller.js';
import { ReadinessService, type CheckResult } from './readiness.service.js';

type Indicators = Pick<ReadinessService, 'shutdown' | 'discoveryState' | 'auth' | 'reachability'>;

const up = (details: Record<string, unknown> = {}): CheckResult => ({ up: true, details });
const down = (reason: string): CheckResult => ({ up: false, details: { reason } });

function allUp(): Indicators {
  return {
    shutdown: () => up(),
    discoveryState: () => up({ ready: 2 }),
    auth: () => up({ mode: 'jwks' }),
    reachability: () => Promise.resolve(up({ reachable: ['istiod-a'] })),
  };
}

const contexts: INestApplicationContext[] = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const context of contexts.splice(0)) await context.close();
});

async function build(indicators: Partial<Indicators> = {}, env: Record<string, string> = {}): Promise<HealthController> {
  const config = loadConfig({ DISCOVERY: 'static', ISTIOD_ADDRESSES: 'x=1.2.3.4:1', UPSTREAM_INSECURE: 'true', ...env });
  const context = await NestFactory.createApplicationContext(
    {
      module: class HealthSpecModule {},
      imports: [TerminusModule.forRoot({ logger: false })],
      controllers: [HealthController],
      providers: [
        { provide: ReadinessService, useValue: { ...allUp(), ...indicators } },
        { provide: APP_CONFIG, useValue: config },
      ],
    },
    { logger: false },
  );
  contexts.push(context);
  return context.get(HealthController);
}

/** What GET /readyz answers: Terminus throws 503 with the same result body. */
async function readyz(sut: HealthController): Promise<{ code: number; body: HealthCheckResult }> {
  try {
    return { code: 200, body: await sut.readyz() };
  } catch (err) {
    if (err instanceof ServiceUnavailableException) return { code: 503, body: err.getResponse() as HealthCheckResult };
    throw err;
  }
}

describe('HealthController.healthz', () => {
  it('is up with the process uptime, whatever readiness says', async () => {
    const sut = await build({ shutdown: () => down('shutting down'), discoveryState: () => down('not synced') });

    const result = await sut.healthz();

    expect(result.status).toBe('ok');
    expect(result.details.process).toMatchObject({ status: 'up', uptimeSeconds: expect.any(Number) as number });
  });
});

describe('HealthController.readyz', () => {
  it('is 200 naming shutdown, discovery and auth when all are up, and leaves istiod out by default', async () => {
    const { code, body } = await readyz(await build());

    expect(code).toBe(200);
    expect(body.details).toEqual({
      shutdown: { status: 'up' },
      discovery: { status: 'up', ready: 2 },
      auth: { status: 'up', mode: 'jwks' },
    });
  });

  it.each([
    { indicator: 'shutdown', override: { shutdown: () => down('shutting down') } },
    { indicator: 'discovery', override: { discoveryState: () => down('discovery has not synced yet') } },
    { indicator: 'auth', override: { auth: () => down('verifier unavailable') } },
  ])('is 503 naming $indicator when it is down, the others still up', async ({ indicator, override }) => {
    const { code, body } = await readyz(await build(override));

    expect(code).toBe(503);
    expect(Object.keys(body.error ?? {})).toEqual([indicator]);
    expect(body.error?.[indicator]).toMatchObject({ status: 'down', reason: expect.any(String) as string });
    expect(Object.keys(body.info ?? {}).sort()).toEqual(['auth', 'discovery', 'shutdown'].filter((key) => key !== indicator));
  });

  it('reports an indicator that throws as down with its message instead of failing the probe', async () => {
    const { code, body } = await readyz(
      await build({
        discoveryState: () => {
          throw new Error('snapshot exploded');
        },
      }),
    );

    expect(code).toBe(503);
    expect(body.error?.discovery).toEqual({ status: 'down', reason: 'snapshot exploded' });
  });

  it('shows the AUTH_MODE=none warning while staying ready', async () => {
    const warning = 'AUTH_MODE=none: callers are not authenticated by the proxy';
    const { code, body } = await readyz(await build({ auth: () => up({ mode: 'none', warning }) }));

    expect(code).toBe(200);
    expect(body.details.auth).toEqual({ status: 'up', mode: 'none', warning });
  });
});

describe('HealthController.readyz with READY_REQUIRES_REACHABLE=true', () => {
  const env = { READY_REQUIRES_REACHABLE: 'true' };

  it('is 200 naming the reachable istiods', async () => {
    const { code, body } = await readyz(await build({}, env));

    expect(code).toBe(200);
    expect(body.details.istiod).toEqual({ status: 'up', reachable: ['istiod-a'] });
  });

  it('is 503 when no istiod is reachable', async () => {
    const { code, body } = await readyz(await build({ reachability: () => Promise.resolve(down('no istiod answered')) }, env));

    expect(code).toBe(503);
    expect(body.error?.istiod).toEqual({ status: 'down', reason: 'no istiod answered' });
  });

  it('is 503 naming the timeout when the reachability check hangs, at the indicator deadline and not before', async () => {
    const sut = await build({ reachability: () => new Promise<CheckResult>(() => undefined) }, env);
    vi.useFakeTimers();
    let settled = false;
    const answer = readyz(sut).finally(() => (settled = true));

    await vi.advanceTimersByTimeAsync(INDICATOR_DEADLINE_MS - 1);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);

    const { code, body } = await answer;
    expect(code).toBe(503);
    expect(body.error?.istiod).toEqual({ status: 'down', reason: `check timed out after ${INDICATOR_DEADLINE_MS} ms` });
    expect(body.info?.discovery).toEqual({ status: 'up', ready: 2 });
  });
});
