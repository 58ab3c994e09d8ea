import { Metadata } from '@grpc/grpc-js';
import { Observable, Subject, firstValueFrom, of } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { staticTestConfig } from '../../../test/kit/test-config.js';
import { request, response } from '../../../test/kit/xds-fixtures.js';
import { ManualClock } from '../../common/clock.js';
import { stringStruct } from '../../common/xds-types.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { AggregateOutcome } from './aggregate-outcome.js';
import { RequestCoalescing } from './request-coalescing.js';

const SYNCZ = 'istio.io/debug/syncz';
const node = request(SYNCZ).node!;
const alice = { metadata: new Metadata(), identity: { subject: 'alice' } };
const bob = { metadata: new Metadata(), identity: { subject: 'bob' } };

function build(responseCacheMs = 0) {
  const config = staticTestConfig({ RESPONSE_CACHE_MS: String(responseCacheMs) });
  const clock = new ManualClock(Date.parse('2026-01-01T00:00:00Z'));
  const metrics = new MetricsService();
  return { sut: new RequestCoalescing(config, clock, metrics), clock, metrics };
}

const outcome = (nonce: string): AggregateOutcome => ({
  response: { ...response(SYNCZ, []), nonce },
  missing: [],
  stats: { asked: 1, answered: ['istiod-a'], failed: [], skipped: 0 },
  coalesced: false,
});

/** The fan-out being coalesced, counting how often it really ran. */
class CountingWork {
  runs = 0;
  constructor(private readonly source: () => Observable<AggregateOutcome>) {}
  readonly run = (): Observable<AggregateOutcome> => {
    this.runs++;
    return this.source();
  };
}

describe('RequestCoalescing', () => {
  it('runs one fan-out for identical concurrent requests; joiners are marked, counted and get a fresh nonce', async () => {
    const { sut, metrics } = build();
    const answer = new Subject<AggregateOutcome>();
    const work = new CountingWork(() => answer);
    const first = firstValueFrom(sut.share(request(SYNCZ), node, alice, work.run));
    const second = firstValueFrom(sut.share(request(SYNCZ), node, alice, work.run));
    answer.next(outcome('n-1'));
    answer.complete();
    const [a, b] = await Promise.all([first, second]);
    expect(work.runs).toBe(1);
    expect([a.coalesced, b.coalesced]).toEqual([false, true]);
    expect(a.response.nonce).toBe('n-1');
    expect(b.response.nonce).toMatch(/^[0-9a-f-]{36}$/);
    expect((await metrics.coalesced.get()).values.map((v) => [v.labels.type_url, v.value])).toEqual([[SYNCZ, 1]]);
  });

  it('never shares between different callers or different resource names', async () => {
    const { sut } = build();
    const answer = new Subject<AggregateOutcome>();
    const work = new CountingWork(() => answer);
    const pending = [
      firstValueFrom(sut.share(request(SYNCZ), node, alice, work.run)),
      firstValueFrom(sut.share(request(SYNCZ), node, bob, work.run)),
      firstValueFrom(sut.share(request(SYNCZ, ['x.ns']), node, alice, work.run)),
    ];
    answer.next(outcome('n'));
    answer.complete();
    await Promise.all(pending);
    expect(work.runs).toBe(3);
  });

  it('reuses a completed answer for RESPONSE_CACHE_MS by the clock, then asks again', async () => {
    const { sut, clock } = build(500);
    const work = new CountingWork(() => of(outcome('n')));
    await firstValueFrom(sut.share(request(SYNCZ), node, alice, work.run));
    clock.advance(499);
    expect((await firstValueFrom(sut.share(request(SYNCZ), node, alice, work.run))).coalesced).toBe(true);
    clock.advance(2);
    expect((await firstValueFrom(sut.share(request(SYNCZ), node, alice, work.run))).coalesced).toBe(false);
    expect(work.runs).toBe(2);
  });

  it('coalesces requests whose node metadata came in another map order', async () => {
    const { sut, metrics } = build();
    const answer = new Subject<AggregateOutcome>();
    const work = new CountingWork(() => answer);
    const entries: Array<[string, string]> = [
      ['GENERATOR', 'event'],
      ['NAMESPACE', 'istio-system'],
      ['SERVICE_ACCOUNT', 'default'],
      ['ISTIO_VERSION', '65536.65536.65536'],
    ];
    const shuffled = (order: Array<[string, string]>) => ({ ...node, metadata: stringStruct(Object.fromEntries(order)) });
    const pending = [entries, [...entries].reverse(), [entries[2], entries[0], entries[3], entries[1]]].map((order) =>
      firstValueFrom(sut.share(request(SYNCZ), shuffled(order), alice, work.run)),
    );
    answer.next(outcome('n'));
    answer.complete();
    expect((await Promise.all(pending)).map((o) => o.coalesced)).toEqual([false, true, true]);
    expect(work.runs).toBe(1);
    expect((await metrics.coalesced.get()).values.map((v) => v.value)).toEqual([2]);
  });

  it('counts nobody as coalesced who started a fan-out, even right after an identical one answered', async () => {
    const { sut, metrics } = build();
    const work = new CountingWork(() => of(outcome('n')));
    for (let i = 0; i < 3; i++) expect((await firstValueFrom(sut.share(request(SYNCZ), node, alice, work.run))).coalesced).toBe(false);
    expect(work.runs).toBe(3);
    expect((await metrics.coalesced.get()).values.map((v) => v.value)).toEqual([]);
  });

  it('reports the bytes the response cache holds', async () => {
    const { sut, metrics } = build(60_000);
    await firstValueFrom(sut.share(request(SYNCZ), node, alice, () => of(outcome('n'))));
    const [gauge] = (await metrics.responseCacheBytes.get()).values;
    expect(gauge.value).toBeGreaterThan(0);
    sut.onModuleDestroy();
    expect((await metrics.responseCacheBytes.get()).values[0].value).toBe(0);
  });
});
