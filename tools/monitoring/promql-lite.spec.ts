import { describe, expect, it } from 'vitest';
import { evaluate, parsePromQL, type Snapshot } from './promql-lite.js';

const sample = (name: string, labels: Record<string, string>, value: number) => ({ name, labels, value });

describe('promql-lite (the README dashboard picture evaluator)', () => {
  it('rate() is the reset-corrected increase between the first and last samples in the window, per second', () => {
    const history: Snapshot[] = [
      { t: 0, samples: [sample('req_total', { code: 'OK' }, 10)] },
      { t: 2, samples: [sample('req_total', { code: 'OK' }, 14)] },
      { t: 4, samples: [sample('req_total', { code: 'OK' }, 2)] }, // restarted: 0 -> 2
      { t: 6, samples: [sample('req_total', { code: 'OK' }, 6)] },
    ];
    expect(evaluate('rate(req_total[5s])', history, 6)).toEqual([{ labels: { code: 'OK' }, value: (2 + 4) / 4 }]);
    expect(evaluate('increase(req_total{code="OK"}[10s])', history, 6)).toEqual([{ labels: { code: 'OK' }, value: 4 + 2 + 4 }]);
    expect(evaluate('rate(req_total[1s])', history, 6)).toEqual([]); // one sample in the window
  });

  it('aggregates by or without labels, and matches an absent label as ""', () => {
    const history: Snapshot[] = [
      {
        t: 0,
        samples: [sample('streams', { pod: 'a', zone: 'x' }, 3), sample('streams', { pod: 'b', zone: 'x' }, 4), sample('streams', {}, 100)],
      },
    ];
    expect(evaluate('sum by (zone) (streams{pod=~"a|b"})', history, 0)).toEqual([{ labels: { zone: 'x' }, value: 7 }]);
    expect(evaluate('max(streams) without (pod)', history, 0)).toEqual([
      { labels: { zone: 'x' }, value: 4 },
      { labels: {}, value: 100 },
    ]);
    expect(evaluate('sum(streams{pod=~".*"})', history, 0)).toEqual([{ labels: {}, value: 107 }]);
    expect(evaluate('sum(streams{pod!=""}) / 7 * 2', history, 0)).toEqual([{ labels: {}, value: 2 }]);
  });

  it('histogram_quantile interpolates linearly inside the bucket, as Prometheus does', () => {
    const buckets = (counts: number[]) => ['0.1', '0.5', '1', '+Inf'].map((le, i) => sample('lat_bucket', { le, type: 't' }, counts[i]));
    const history: Snapshot[] = [
      { t: 0, samples: buckets([0, 0, 0, 0]) },
      { t: 10, samples: buckets([50, 90, 100, 100]) },
    ];
    const at = (q: number) => evaluate(`histogram_quantile(${q}, sum by (type, le) (rate(lat_bucket[20s])))`, history, 10)[0].value;
    expect(at(0.5)).toBeCloseTo(0.1);
    expect(at(0.7)).toBeCloseTo(0.1 + 0.4 * (20 / 40));
    expect(at(0.95)).toBeCloseTo(0.5 + 0.5 * (5 / 10));
  });

  it('refuses what it does not implement rather than guessing', () => {
    expect(() => parsePromQL('irate(x[5m])')).toThrow('unsupported function irate()');
    expect(() => parsePromQL('x > 5')).toThrow('unsupported');
    expect(() => evaluate('x[5m]', [], 0)).toThrow('range vector');
  });
});
