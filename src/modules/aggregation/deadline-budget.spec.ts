import { describe, expect, it } from 'vitest';
import { staticTestConfig } from '../../../test/kit/test-config.js';
import { ManualClock } from '../../common/clock.js';
import { DeadlineBudget } from './deadline-budget.js';

const NOW = Date.parse('2026-01-01T00:00:00Z');

function build(env: Record<string, string> = {}) {
  const config = staticTestConfig({ FANOUT_TIMEOUT_MS: '10000', DEADLINE_MARGIN_MS: '250', ...env });
  const clock = new ManualClock(NOW);
  return { sut: new DeadlineBudget(config, clock), clock };
}

describe('DeadlineBudget', () => {
  it('is FANOUT_TIMEOUT_MS when the caller set no deadline (istioctl sets none)', () => {
    expect(build().sut.timeoutFor(undefined)).toBe(10_000);
  });

  it('is FANOUT_TIMEOUT_MS for an infinite or invalid deadline', () => {
    const { sut } = build();
    expect(sut.timeoutFor(new Date(Number.NaN))).toBe(10_000);
    expect(sut.timeoutFor(new Date(Infinity))).toBe(10_000);
  });

  it('is the caller deadline minus DEADLINE_MARGIN_MS when that is sooner', () => {
    const { sut } = build();
    expect(sut.timeoutFor(new Date(NOW + 2000))).toBe(1750);
  });

  it('never exceeds FANOUT_TIMEOUT_MS, however late the caller deadline', () => {
    expect(build().sut.timeoutFor(new Date(NOW + 60_000))).toBe(10_000);
  });

  it('shrinks as the clock moves towards the deadline, and is at least 1 ms once it has passed', () => {
    const { sut, clock } = build();
    const deadline = new Date(NOW + 2000);
    clock.advance(1000);
    expect(sut.timeoutFor(deadline)).toBe(750);
    clock.advance(5000);
    expect(sut.timeoutFor(deadline)).toBe(1);
  });

  it('grants what a strategy asks for, up to LONG_DEBUG_TIMEOUT_MS (default 60 s)', () => {
    const { sut } = build();
    expect(sut.limits()).toEqual({ defaultMs: 10_000, maxMs: 60_000 });
    expect(sut.timeoutFor(undefined, 35_000)).toBe(35_000);
    expect(sut.timeoutFor(undefined, 120_000)).toBe(60_000);
    expect(sut.timeoutFor(undefined, 2_000)).toBe(2_000);
    expect(sut.timeoutFor(undefined, Number.NaN)).toBe(10_000);
    expect(build({ LONG_DEBUG_TIMEOUT_MS: '90000' }).sut.timeoutFor(undefined, 120_000)).toBe(90_000);
  });

  it('never caps a strategy below FANOUT_TIMEOUT_MS, and still honours the caller deadline', () => {
    const { sut } = build({ LONG_DEBUG_TIMEOUT_MS: '5000' });
    expect(sut.limits().maxMs).toBe(10_000);
    expect(sut.timeoutFor(undefined, 35_000)).toBe(10_000);
    expect(build().sut.timeoutFor(new Date(NOW + 20_000), 35_000)).toBe(19_750);
  });
});
