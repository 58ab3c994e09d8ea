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

  it('times the fan-out per type URL', async () => {
    const { sut, metrics } = build();
    sut.startTimer('istio.io/debug/syncz')();
    const counts = (await metrics.fanoutDuration.get()).values.filter((v) => v.metricName?.endsWith('_count'));
    expect(counts.map((v) => [v.labels.type_url, v.value])).toEqual([['istio.io/debug/syncz', 1]]);
  });
});
