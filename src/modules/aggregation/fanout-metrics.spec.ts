import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { answer, instance, response } from '../../../test/kit/xds-fixtures.js';
import { ManualClock } from '../../common/clock.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { FanoutMetrics } from './fanout-metrics.js';
import { FanoutResult } from './fanout-result.js';
import { InstanceHealth } from './instance-health.js';

function build() {
  const metrics = new MetricsService();
  const health = new InstanceHealth(new ManualClock(Date.parse('2026-01-01T00:00:00Z')));
  return { sut: new FanoutMetrics(metrics, health), metrics, health };
}

const results: FanoutResult[] = [
  { ...answer('istiod-a', response('istio.io/debug/syncz', [])), latencyMs: 20 },
  {
    instance: instance('istiod-b'),
    error: { code: status.DEADLINE_EXCEEDED, message: 'no answer within 5 ms', reason: 'timeout' },
    latencyMs: 5,
  },
  { instance: instance('istiod-c'), skipped: true },
];

describe('FanoutMetrics', () => {
  it('observes each istiod latency by outcome, in seconds; a skipped istiod is not observed', async () => {
    const { sut, metrics } = build();
    sut.observe(results);
    const sums = (await metrics.istiodDuration.get()).values.filter((v) => v.metricName?.endsWith('_sum'));
    expect(sums.map((v) => [v.labels.instance, v.labels.outcome, v.value])).toEqual([
      ['istiod-a', 'answer', 0.02],
      ['istiod-b', 'error', 0.005],
    ]);
  });

  it('counts each failure by instance and reason', async () => {
    const { sut, metrics } = build();
    sut.observe(results);
    const errors = (await metrics.istiodErrors.get()).values;
    expect(errors.map((v) => [v.labels, v.value])).toEqual([[{ instance: 'istiod-b', reason: 'timeout' }, 1]]);
  });

  it('records what each istiod did in the instance health', () => {
    const { sut, health } = build();
    sut.observe(results);
    expect(health.get('istiod-a')).toEqual({ lastAnswerAt: '2026-01-01T00:00:00.000Z', lastLatencyMs: 20 });
    expect(health.get('istiod-b').lastError).toBe('timeout: no answer within 5 ms');
    expect(health.get('istiod-c')).toEqual({});
  });

  it("counts istiod refusing the caller apart: not an istiod error, not the instance's last error", async () => {
    const { sut, metrics, health } = build();
    const denied = (name: string, code: number, reason: string): FanoutResult => ({
      instance: instance(name),
      error: { code, message: 'authorization failed', reason },
      latencyMs: 4,
    });
    sut.observe([
      denied('istiod-a', status.PERMISSION_DENIED, 'permission_denied'),
      denied('istiod-b', status.UNAUTHENTICATED, 'unauthenticated'),
    ]);
    expect((await metrics.istiodErrors.get()).values).toEqual([]);
    expect((await metrics.callerDenied.get()).values.map((v) => [v.labels.reason, v.value])).toEqual([
      ['permission_denied', 1],
      ['unauthenticated', 1],
    ]);
    const counts = (await metrics.istiodDuration.get()).values.filter((v) => v.metricName?.endsWith('_count'));
    expect(counts.map((v) => v.labels.outcome)).toEqual(['denied', 'denied']);
    expect(health.get('istiod-a')).toEqual({});
  });

  it('removes every series and health record of a pod that left discovery, and ignores its late results', async () => {
    const { sut, metrics, health } = build();
    sut.observe(results);
    sut.retain(new Set(['istiod-a']));
    const instances = async () => [
      ...(await metrics.istiodDuration.get()).values.map((v) => v.labels.instance),
      ...(await metrics.istiodErrors.get()).values.map((v) => v.labels.instance),
    ];
    expect(new Set(await instances())).toEqual(new Set(['istiod-a']));
    expect(health.get('istiod-b')).toEqual({});
    sut.observe(results); // a fan-out that started before istiod-b left
    expect(new Set(await instances())).toEqual(new Set(['istiod-a']));
    expect(health.get('istiod-b')).toEqual({});
  });

  it('times the fan-out per type URL, made-up type URLs as "other"', async () => {
    const { sut, metrics } = build();
    sut.startTimer('istio.io/debug/syncz')();
    sut.startTimer('made.up/1')();
    sut.startTimer('made.up/2')();
    const counts = (await metrics.fanoutDuration.get()).values.filter((v) => v.metricName?.endsWith('_count'));
    expect(counts.map((v) => [v.labels.type_url, v.value])).toEqual([
      ['istio.io/debug/syncz', 1],
      ['other', 2],
    ]);
  });
});
