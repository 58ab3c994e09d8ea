import { describe, expect, it } from 'vitest';
import { answer, clientConfigAny, request, response } from '../../../../test/kit/xds-fixtures.js';
import { readClientConfigKey } from './client-config-reader.js';
import { SynczStrategy } from './syncz.strategy.js';

const SYNCZ = 'istio.io/debug/syncz';
const noLog = { log: () => undefined };

describe('SynczStrategy', () => {
  const sut = new SynczStrategy();

  it('unions the proxies of every istiod, keeping Any bytes unchanged', () => {
    const a = clientConfigAny('productpage-v1-1.bookinfo', new Date());
    const b = clientConfigAny('sleep-1.sleep', new Date());
    const merged = sut.merge(request(SYNCZ), [answer('istiod-a', response(SYNCZ, [a])), answer('istiod-b', response(SYNCZ, [b]))], noLog);
    expect(merged.resources).toHaveLength(2);
    expect(merged.resources[0].value).toBe(a.value);
    expect(merged.resources[1].value).toBe(b.value);
  });

  it('keeps the copy with the newest last_updated when a proxy is on two replicas', () => {
    const stale = clientConfigAny('reviews-v1-1.bookinfo', new Date('2026-01-01T00:00:00Z'), '1.26.1');
    const live = clientConfigAny('reviews-v1-1.bookinfo', new Date('2026-01-01T00:05:00Z'), '1.27.3');
    const logs: string[] = [];
    const merged = sut.merge(request(SYNCZ), [answer('istiod-a', response(SYNCZ, [stale])), answer('istiod-b', response(SYNCZ, [live]))], {
      log: (m) => logs.push(m),
    });
    expect(merged.resources).toEqual([live]);
    expect(logs[0]).toContain('more than one istiod');
  });

  it('keeps the first replica copy on a tie or when no timestamps are set (istiod <= 1.22)', () => {
    const first = clientConfigAny('ratings-1.bookinfo');
    const second = clientConfigAny('ratings-1.bookinfo');
    const merged = sut.merge(
      request(SYNCZ),
      [answer('istiod-a', response(SYNCZ, [first])), answer('istiod-b', response(SYNCZ, [second]))],
      noLog,
    );
    expect(merged.resources).toHaveLength(1);
    expect(merged.resources[0]).toBe(first);
  });

  it('passes through resources it cannot read instead of dropping them', () => {
    const odd = { type_url: 'type.googleapis.com/some.Other', value: Buffer.from([1, 2, 3]) };
    const merged = sut.merge(request(SYNCZ), [answer('istiod-a', response(SYNCZ, [odd]))], noLog);
    expect(merged.resources).toEqual([odd]);
  });

  it('reads node id and newest timestamp from the wire format', () => {
    const key = readClientConfigKey(clientConfigAny('x.ns', new Date('2026-03-04T05:06:07.890Z')).value);
    expect(key).toEqual({ nodeId: 'x.ns', lastUpdatedMs: Date.parse('2026-03-04T05:06:07.890Z') });
  });
});
