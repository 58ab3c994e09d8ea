import { Observable, Subject, firstValueFrom, of, throwError } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { stringStruct } from '../../common/xds-types.js';
import { Coalescer, coalescingKey } from './coalescer.js';

const noJoin = () => undefined;

describe('Coalescer', () => {
  it('runs the work once for concurrent callers of one key and gives everyone the answer', async () => {
    const sut = new Coalescer<string>();
    const answer = new Subject<string>();
    let runs = 0;
    let joins = 0;
    const work = () => {
      runs++;
      return answer;
    };
    const callers = Array.from({ length: 5 }, () => firstValueFrom(sut.run('k', work, () => joins++)));
    answer.next('merged');
    answer.complete();
    expect(await Promise.all(callers)).toEqual(Array(5).fill('merged'));
    expect(runs).toBe(1);
    expect(joins).toBe(4);
  });

  it('does not share across keys, nor after the work completed (no cache by default)', async () => {
    const sut = new Coalescer<number>();
    let runs = 0;
    await firstValueFrom(sut.run('a', () => of(++runs), noJoin));
    await firstValueFrom(sut.run('b', () => of(++runs), noJoin));
    await firstValueFrom(sut.run('a', () => of(++runs), noJoin));
    expect(runs).toBe(3);
  });

  it('is lazy: nothing runs and nobody is counted as joined until subscribed', async () => {
    const sut = new Coalescer<number>();
    let runs = 0;
    let joins = 0;
    const unsubscribed = sut.run(
      'a',
      () => of(++runs),
      () => joins++,
    );
    expect(runs).toBe(0);
    await firstValueFrom(
      sut.run(
        'a',
        () => of(++runs),
        () => joins++,
      ),
    );
    expect([runs, joins]).toEqual([1, 0]);
    expect(await firstValueFrom(unsubscribed)).toBe(2);
  });

  it('a caller arriving once the work has answered starts afresh and is not counted as joined', async () => {
    const sut = new Coalescer<number>();
    const answer = new Subject<number>();
    let runs = 0;
    let joins = 0;
    const first = firstValueFrom(
      sut.run(
        'a',
        () => (runs++, answer),
        () => joins++,
      ),
    );
    answer.next(1); // answered, not completed yet: the flight no longer takes joiners
    const second = firstValueFrom(
      sut.run(
        'a',
        () => of(++runs * 10),
        () => joins++,
      ),
    );
    answer.complete();
    expect(await Promise.all([first, second])).toEqual([1, 20]);
    expect([runs, joins]).toEqual([2, 0]);
  });

  it('cancels the work when every caller left, and the next caller starts it again', async () => {
    const sut = new Coalescer<number>();
    let runs = 0;
    let cancelled = 0;
    const hanging = () => {
      runs++;
      return new Observable<number>(() => () => cancelled++);
    };
    const first = sut.run('a', hanging, noJoin).subscribe();
    const second = sut.run('a', hanging, noJoin).subscribe();
    first.unsubscribe();
    expect(cancelled).toBe(0);
    second.unsubscribe();
    expect([runs, cancelled]).toEqual([1, 1]);
    expect(await firstValueFrom(sut.run('a', () => of(7), noJoin))).toBe(7);
  });

  it('reuses a completed answer within the cache window', async () => {
    let now = 1000;
    const sut = new Coalescer<number>({ ttlMs: 500, now: () => now });
    let runs = 0;
    let joins = 0;
    const ask = () =>
      firstValueFrom(
        sut.run(
          'a',
          () => of(++runs),
          () => joins++,
        ),
      );
    await ask();
    now += 499;
    expect(await ask()).toBe(1);
    now += 2;
    expect(await ask()).toBe(2);
    expect(joins).toBe(1);
    sut.close();
  });

  it('shares an error with the waiting callers and never caches it', async () => {
    const sut = new Coalescer<number>({ ttlMs: 10_000 });
    const failure = new Subject<number>();
    const first = firstValueFrom(sut.run('a', () => failure, noJoin));
    const second = firstValueFrom(sut.run('a', () => of(0), noJoin));
    failure.error(new Error('istiod down'));
    await expect(first).rejects.toThrow('istiod down');
    await expect(second).rejects.toThrow('istiod down');
    expect(await firstValueFrom(sut.run('a', () => of(7), noJoin))).toBe(7);
    await expect(firstValueFrom(sut.run('b', () => throwError(() => new Error('x')), noJoin))).rejects.toThrow('x');
    sut.close();
  });

  it('keeps the cache within its byte bound, oldest out', async () => {
    const sizes: number[] = [];
    const sut = new Coalescer<string>({ ttlMs: 60_000, maxBytes: 250, sizeOf: (v) => v.length, onSize: (b) => sizes.push(b) });
    for (const key of ['a', 'b', 'c']) await firstValueFrom(sut.run(key, () => of(key.repeat(100)), noJoin));
    expect(sizes.at(-1)).toBe(200); // 'a' (100 bytes) went to make room for 'c'
    let runs = 0;
    await firstValueFrom(sut.run('a', () => of(String(++runs)), noJoin));
    await firstValueFrom(sut.run('c', () => of(String(++runs)), noJoin));
    expect(runs).toBe(1); // 'a' was asked again, 'c' came from the cache
    sut.close();
  });
});

describe('coalescingKey', () => {
  it('differs when any part differs', () => {
    expect(coalescingKey(['syncz', [], 'alice'])).not.toBe(coalescingKey(['syncz', [], 'bob']));
    expect(coalescingKey(['syncz', [], 'alice'])).toBe(coalescingKey(['syncz', [], 'alice']));
    expect(coalescingKey(['syncz', ['a', 'b']])).not.toBe(coalescingKey(['syncz', ['b', 'a']]));
  });

  it('ignores the order of map entries at every depth (a Struct from Go or Python comes in random order)', () => {
    const node = (entries: Array<[string, string]>) => ({
      id: 'sidecar~10.0.0.1~test-1.default~default.svc.cluster.local',
      metadata: {
        fields: { ...stringStruct(Object.fromEntries(entries)).fields, NESTED: { structValue: stringStruct(Object.fromEntries(entries)) } },
      },
    });
    const entries: Array<[string, string]> = [
      ['GENERATOR', 'event'],
      ['NAMESPACE', 'istio-system'],
      ['SERVICE_ACCOUNT', 'default'],
    ];
    expect(coalescingKey(['syncz', node(entries)])).toBe(coalescingKey(['syncz', node([...entries].reverse())]));
    expect(coalescingKey(['syncz', node(entries)])).not.toBe(coalescingKey(['syncz', node(entries.slice(1))]));
  });

  it('keeps a key named __proto__ as an ordinary key', () => {
    expect(coalescingKey([JSON.parse('{"__proto__": {"x": 1}}')])).not.toBe(coalescingKey([{}]));
  });
});
