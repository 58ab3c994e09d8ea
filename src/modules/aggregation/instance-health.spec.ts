import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { answer, instance, response } from '../../../test/kit/xds-fixtures.js';
import { ManualClock } from '../../common/clock.js';
import { InstanceHealth } from './instance-health.js';

const START = Date.parse('2026-01-01T00:00:00Z');
const ok = (name: string) => ({ ...answer(name, response('istio.io/debug/syncz', [])), latencyMs: 12 });
const failed = (name: string) => ({
  instance: instance(name),
  error: { code: status.UNAVAILABLE, message: 'connection refused', reason: 'unavailable' },
  latencyMs: 3,
});

describe('InstanceHealth', () => {
  it('records the last answer and the last error with the clock time', () => {
    const clock = new ManualClock(START);
    const sut = new InstanceHealth(clock);
    sut.record([ok('istiod-a')]);
    clock.advance(60_000);
    sut.record([failed('istiod-a')]);
    expect(sut.get('istiod-a')).toEqual({
      lastAnswerAt: '2026-01-01T00:00:00.000Z',
      lastLatencyMs: 12,
      lastErrorAt: '2026-01-01T00:01:00.000Z',
      lastError: 'unavailable: connection refused',
    });
    expect(sut.get('istiod-unknown')).toEqual({});
  });

  it('moves last success only on an answer or a reachability probe, never on an error', () => {
    const clock = new ManualClock(START);
    const sut = new InstanceHealth(clock);
    expect(sut.lastSuccess('istiod-a')).toBeUndefined();
    sut.record([ok('istiod-a')]);
    clock.advance(30_000);
    sut.record([failed('istiod-a'), { instance: instance('istiod-b'), skipped: true }]);
    expect(sut.lastSuccess('istiod-a')).toBe(START);
    expect(sut.lastSuccess('istiod-b')).toBeUndefined();
    clock.advance(30_000);
    sut.markReachable('istiod-b');
    expect(sut.lastSuccess('istiod-b')).toBe(START + 60_000);
  });

  it('records nothing when istiod refused the caller: the instance did not fail', () => {
    const sut = new InstanceHealth(new ManualClock(START));
    const denied = (code: number) => ({ instance: instance('istiod-a'), error: { code, message: 'denied', reason: 'x' }, latencyMs: 1 });
    sut.record([denied(status.PERMISSION_DENIED), denied(status.UNAUTHENTICATED)]);
    expect(sut.get('istiod-a')).toEqual({});
    expect(sut.lastSuccess('istiod-a')).toBeUndefined();
  });

  it('forgets the pods that left discovery', () => {
    const sut = new InstanceHealth(new ManualClock(START));
    sut.record([ok('istiod-a'), failed('istiod-b')]);
    sut.markReachable('istiod-c');
    sut.retain(new Set(['istiod-a']));
    expect(sut.get('istiod-a').lastAnswerAt).toBeDefined();
    expect([sut.get('istiod-b'), sut.lastSuccess('istiod-c')]).toEqual([{}, undefined]);
  });
});
