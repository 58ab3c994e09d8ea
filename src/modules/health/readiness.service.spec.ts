import { describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../../common/clock.js';
import { loadConfig } from '../../config/load-config.js';
import { instance } from '../../../test/kit/xds-fixtures.js';
import { IstiodClientPool } from '../aggregation/istiod.client.js';
import { InstanceHealth } from '../aggregation/instance-health.js';
import { TokenVerifier } from '../auth/token-verifier.js';
import { DiscoveryService } from '../discovery/discovery.service.js';
import { IstiodInstance } from '../discovery/istiod-instance.js';
import { LifecycleService } from '../lifecycle/lifecycle.service.js';
import { INDICATOR_TIMEOUT_MS, ReadinessService } from './readiness.service.js';

const WINDOW_MS = 60_000;
const START_MS = Date.parse('2026-01-01T00:00:00Z');

interface Options {
  instances?: IstiodInstance[];
  synced?: boolean;
  authMode?: string;
  /** What the connection probe answers per instance name (false when absent). */
  probes?: Record<string, boolean>;
}

function build({ instances = [instance('istiod-a'), instance('istiod-b')], synced = true, authMode = 'jwks', probes = {} }: Options = {}) {
  const clock = new ManualClock(START_MS);
  const lifecycle = new LifecycleService();
  const config = loadConfig({
    DISCOVERY: 'static',
    ISTIOD_ADDRESSES: 'x=1.2.3.4:1',
    UPSTREAM_INSECURE: 'true',
    READY_REACHABLE_WINDOW_MS: String(WINDOW_MS),
  });
  const discovery: Pick<DiscoveryService, 'snapshot' | 'synced' | 'describeScope'> = {
    snapshot: () => instances,
    synced,
    describeScope: () => 'ISTIOD_ADDRESSES',
  };
  // Success times on the same manual clock the service compares them with.
  const lastSuccess = new Map<string, number>();
  const health: Pick<InstanceHealth, 'lastSuccess' | 'markReachable'> = {
    lastSuccess: (name) => lastSuccess.get(name),
    markReachable: (name) => void lastSuccess.set(name, clock.now()),
  };
  const probe = vi.fn<IstiodClientPool['probe']>((target) => Promise.resolve(probes[target.name] ?? false));
  const pool: Pick<IstiodClientPool, 'probe'> = { probe };
  const verifier: TokenVerifier = { mode: authMode, verify: () => Promise.reject(new Error('unused')) };
  const sut = new ReadinessService(
    config,
    discovery as DiscoveryService,
    lifecycle,
    health as InstanceHealth,
    pool as IstiodClientPool,
    verifier,
    clock,
  );
  return { sut, clock, lifecycle, health, probe };
}

describe('ReadinessService.shutdown', () => {
  it('is up until shutdown begins, then down naming it', () => {
    const { sut, lifecycle } = build();
    expect(sut.shutdown()).toEqual({ up: true, details: {} });

    lifecycle.beginShutdown();

    expect(sut.shutdown()).toEqual({ up: false, details: { reason: 'shutting down' } });
    expect(sut.isReady()).toBe(false);
  });
});

describe('ReadinessService.discoveryState', () => {
  it('is down until discovery has synced', () => {
    const { sut } = build({ synced: false });
    expect(sut.discoveryState()).toEqual({ up: false, details: { reason: 'discovery has not synced yet (ISTIOD_ADDRESSES)' } });
    expect(sut.isReady()).toBe(false);
  });

  it('is down with no ready istiod', () => {
    const { sut } = build({ instances: [] });
    expect(sut.discoveryState()).toEqual({ up: false, details: { reason: 'no ready istiod instance in ISTIOD_ADDRESSES', ready: 0 } });
  });

  it('is up counting the ready instances', () => {
    const { sut } = build();
    expect(sut.discoveryState()).toEqual({ up: true, details: { ready: 2 } });
    expect(sut.isReady()).toBe(true);
  });
});

describe('ReadinessService.auth', () => {
  it('is up with a warning when callers are not authenticated (AUTH_MODE=none)', () => {
    expect(build({ authMode: 'none' }).sut.auth()).toEqual({
      up: true,
      details: { mode: 'none', warning: 'AUTH_MODE=none: callers are not authenticated by the proxy' },
    });
  });

  it('is up naming the mode otherwise', () => {
    expect(build({ authMode: 'tokenreview' }).sut.auth()).toEqual({ up: true, details: { mode: 'tokenreview' } });
  });
});

describe('ReadinessService.reachability (READY_REQUIRES_REACHABLE)', () => {
  it('is up without probing while an istiod answered within the window', async () => {
    const { sut, clock, health, probe } = build();
    health.markReachable('istiod-b');
    clock.advance(WINDOW_MS);

    expect(await sut.reachability()).toEqual({ up: true, details: { reachable: ['istiod-b'] } });
    expect(probe).not.toHaveBeenCalled();
  });

  it('probes every istiod once the last answer is older than the window, and remembers who answered', async () => {
    const { sut, clock, health, probe } = build({ probes: { 'istiod-a': true } });
    health.markReachable('istiod-b');
    clock.advance(WINDOW_MS + 1);

    expect(await sut.reachability()).toEqual({ up: true, details: { reachable: ['istiod-a'] } });
    expect(probe.mock.calls.map(([target, timeoutMs]) => [target.name, timeoutMs])).toEqual([
      ['istiod-a', INDICATOR_TIMEOUT_MS],
      ['istiod-b', INDICATOR_TIMEOUT_MS],
    ]);
    expect(health.lastSuccess('istiod-a')).toBe(clock.now());
  });

  it('is down naming the window when no istiod answers a probe either', async () => {
    const { sut } = build();

    expect(await sut.reachability()).toEqual({
      up: false,
      details: { reason: `no istiod answered within ${WINDOW_MS} ms nor a connection probe` },
    });
  });
});
