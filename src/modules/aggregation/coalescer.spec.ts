import { Subject, firstValueFrom, of, throwError } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { Coalescer, coalescingKey } from './coalescer.js';

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
    await firstValueFrom(
      sut.run(
        'a',
        () => of(++runs),
        () => undefined,
      ),
    );
    await firstValueFrom(
      sut.run(
        'b',
        () => of(++runs),
        () => undefined,
      ),
    );
    await firstValueFrom(
      sut.run(
        'a',
        () => of(++runs),
        () => undefined,
      ),
    );
    expect(runs).toBe(3);
  });

  it('reuses a completed answer within the cache window', async () => {
    let now = 1000;
    const sut = new Coalescer<number>(500, () => now);
    let runs = 0;
    await firstValueFrom(
      sut.run(
        'a',
        () => of(++runs),
        () => undefined,
      ),
    );
    now += 499;
    expect(
      await firstValueFrom(
        sut.run(
          'a',
          () => of(++runs),
          () => undefined,
        ),
      ),
    ).toBe(1);
    now += 2;
    expect(
      await firstValueFrom(
        sut.run(
          'a',
          () => of(++runs),
          () => undefined,
        ),
      ),
    ).toBe(2);
  });

  it('shares an error with the waiting callers and never caches it', async () => {
    const sut = new Coalescer<number>(10_000);
    const failure = new Subject<number>();
    const first = firstValueFrom(
      sut.run(
        'a',
        () => failure,
        () => undefined,
      ),
    );
    const second = firstValueFrom(
      sut.run(
        'a',
        () => of(0),
        () => undefined,
      ),
    );
    failure.error(new Error('istiod down'));
    await expect(first).rejects.toThrow('istiod down');
    await expect(second).rejects.toThrow('istiod down');
    expect(
      await firstValueFrom(
        sut.run(
          'a',
          () => of(7),
          () => undefined,
        ),
      ),
    ).toBe(7);
    await expect(
      firstValueFrom(
        sut.run(
          'b',
          () => throwError(() => new Error('x')),
          () => undefined,
        ),
      ),
    ).rejects.toThrow('x');
  });

  it('keys differ when any part differs', () => {
    expect(coalescingKey(['syncz', [], 'alice'])).not.toBe(coalescingKey(['syncz', [], 'bob']));
    expect(coalescingKey(['syncz', [], 'alice'])).toBe(coalescingKey(['syncz', [], 'alice']));
  });
});
