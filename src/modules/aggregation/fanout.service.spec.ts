import { Metadata, status } from '@grpc/grpc-js';
import { Observable, Subject, firstValueFrom, of, throwError } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ManualClock, SystemClock } from '../../common/clock.js';
import { DiscoveryRequest, DiscoveryResponse } from '../../common/xds-types.js';
import { debugAny, instance, request, response } from '../../../test/kit/xds-fixtures.js';
import { IstiodInstance } from '../discovery/istiod-instance.js';
import { FanoutService } from './fanout.service.js';
import { InstanceAnswer, isAnswer, isError } from './fanout-result.js';
import { UpstreamCaller } from './istiod.client.js';

type Behaviour = (req: DiscoveryRequest) => Observable<DiscoveryResponse>;

/** The network edge, replaced: each instance behaves as the test says; the fan-out logic is real. */
class ScriptedCaller extends UpstreamCaller {
  readonly asked: string[] = [];
  readonly cancelled: string[] = [];
  readonly deadlines: Date[] = [];
  constructor(private readonly behaviours: Record<string, Behaviour>) {
    super();
  }
  ask(target: IstiodInstance, req: DiscoveryRequest, _metadata: Metadata, deadline: Date): Observable<DiscoveryResponse> {
    return new Observable<DiscoveryResponse>((subscriber) => {
      this.asked.push(target.name);
      this.deadlines.push(deadline);
      let finished = false;
      const inner = this.behaviours[target.name](req).subscribe({
        next: (value) => subscriber.next(value),
        error: (err) => ((finished = true), subscriber.error(err)),
        complete: () => ((finished = true), subscriber.complete()),
      });
      return () => {
        if (!finished) this.cancelled.push(target.name);
        inner.unsubscribe();
      };
    });
  }
}

const SYNCZ = 'istio.io/debug/syncz';
const never = () => new Subject<DiscoveryResponse>();
/** Reads Date.now(), which the fake timers below control. */
const clock = new SystemClock();

describe('FanoutService', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('asks every instance in parallel and returns one result per instance in instance order', async () => {
    const later = new Subject<DiscoveryResponse>();
    const caller = new ScriptedCaller({ a: () => later, b: () => of(response(SYNCZ, [])) });
    const sut = new FanoutService(caller, clock);
    const done = firstValueFrom(sut.fanOut([instance('a'), instance('b')], request(SYNCZ), new Metadata(), { timeoutMs: 1000 }));
    expect(caller.asked).toEqual(['a', 'b']); // both asked before anyone answered
    later.next(response(SYNCZ, [debugAny('x')]));
    later.complete();
    const results = await done;
    expect(results.map((r) => r.instance.name)).toEqual(['a', 'b']);
    expect((results[0] as InstanceAnswer).arrival).toBe(1);
    expect((results[1] as InstanceAnswer).arrival).toBe(0);
  });

  it('turns a hung instance into a timeout value at its own deadline without hiding the others', async () => {
    const caller = new ScriptedCaller({ hung: never, ok: () => of(response(SYNCZ, [])) });
    const sut = new FanoutService(caller, clock);
    const done = firstValueFrom(sut.fanOut([instance('hung'), instance('ok')], request(SYNCZ), new Metadata(), { timeoutMs: 5000 }));
    await vi.advanceTimersByTimeAsync(4999);
    let settled = false;
    void done.then(() => (settled = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    const [hung, ok] = await done;
    expect(isError(hung) && hung.error).toMatchObject({
      code: status.DEADLINE_EXCEEDED,
      reason: 'timeout',
      message: 'no answer within 5000 ms',
    });
    expect(isAnswer(ok)).toBe(true);
    expect(caller.cancelled).toEqual(['hung']);
  });

  it('turns an istiod error into a value carrying its status code', async () => {
    const caller = new ScriptedCaller({
      denied: () => throwError(() => ({ code: status.PERMISSION_DENIED, details: 'authorization failed: no identities' })),
    });
    const [result] = await firstValueFrom(
      new FanoutService(caller, clock).fanOut([instance('denied')], request(SYNCZ), new Metadata(), { timeoutMs: 1000 }),
    );
    expect(isError(result) && result.error).toEqual({
      code: status.PERMISSION_DENIED,
      message: 'authorization failed: no identities',
      reason: 'permission_denied',
    });
  });

  it('stops waiting for the others once an answer is conclusive, and cancels them', async () => {
    const caller = new ScriptedCaller({ slow: never, holder: () => of(response(SYNCZ, [debugAny('dump')])), slower: never });
    const sut = new FanoutService(caller, clock);
    const results = await firstValueFrom(
      sut.fanOut([instance('slow'), instance('holder'), instance('slower')], request(SYNCZ), new Metadata(), {
        timeoutMs: 10_000,
        isConclusive: (a) => a.response.resources.length > 0,
      }),
    );
    expect(results.map((r) => ('skipped' in r ? 'skipped' : isAnswer(r) ? 'answer' : 'error'))).toEqual(['skipped', 'answer', 'skipped']);
    // 'slow' was asked and cancelled; 'slower' came after the conclusive answer and was never asked.
    expect(caller.cancelled).toEqual(['slow']);
    expect(caller.asked).toEqual(['slow', 'holder']);
  });

  it('gives grpc-js a backstop deadline one grace second after the per-instance timeout, by the clock', async () => {
    const caller = new ScriptedCaller({ a: () => of(response(SYNCZ, [])) });
    const sut = new FanoutService(caller, new ManualClock(1_000_000));
    await firstValueFrom(sut.fanOut([instance('a')], request(SYNCZ), new Metadata(), { timeoutMs: 5000 }));
    expect(caller.deadlines.map((d) => d.getTime())).toEqual([1_006_000]);
  });

  it('returns no results for no instances', async () => {
    expect(
      await firstValueFrom(new FanoutService(new ScriptedCaller({}), clock).fanOut([], request(SYNCZ), new Metadata(), { timeoutMs: 1 })),
    ).toEqual([]);
  });
});
