import { status } from '@grpc/grpc-js';
import { RpcException } from '@nestjs/microservices';
import { NEVER, Subject, firstValueFrom, of } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { staticTestConfig } from '../../../test/kit/test-config.js';
import { answer, debugAny, response } from '../../../test/kit/xds-fixtures.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { AnswerMemory, MIN_ANSWER_ESTIMATE_BYTES } from './answer-memory.js';
import { Reservation } from './answer-budget.js';

const MIB = 1024 * 1024;
const DEBUG = 'istio.io/debug';

function build(env: Record<string, string> = {}) {
  const config = staticTestConfig({ MAX_INFLIGHT_ANSWER_BYTES: String(MIB), ANSWER_BUDGET_WAIT_MS: '1000', ...env });
  const metrics = new MetricsService();
  return { sut: new AnswerMemory(config, metrics), metrics };
}

const gauge = async (metric: { get(): Promise<{ values: Array<{ value: number }> }> }) => (await metric.get()).values[0]?.value ?? 0;

describe('AnswerMemory', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('reserves an estimate per istiod before the work starts and frees it when the work ends', async () => {
    const { sut, metrics } = build();
    const done = new Subject<string>();
    const result = firstValueFrom(sut.run(DEBUG, 3, () => done));
    expect(await gauge(metrics.answerBudgetBytes)).toBe(3 * MIN_ANSWER_ESTIMATE_BYTES);
    done.next('merged');
    done.complete();
    expect(await result).toBe('merged');
    expect(await gauge(metrics.answerBudgetBytes)).toBe(0);
  });

  it('holds the real size of the answers, and estimates the next fan-out of the type from it', async () => {
    const { sut, metrics } = build({ MAX_INFLIGHT_ANSWER_BYTES: String(4 * MIB) });
    const big = response(DEBUG, [debugAny('x'.repeat(MIB))]);
    let held: Reservation | undefined;
    const first = sut.run(DEBUG, 2, (reservation) => {
      held = reservation;
      sut.answersArrived(DEBUG, reservation, [answer('istiod-a', big), answer('istiod-b', big)]);
      return NEVER;
    });
    const subscription = first.subscribe();
    expect(held!.bytes).toBeGreaterThan(2 * MIB);
    subscription.unsubscribe();
    expect(await gauge(metrics.answerBudgetBytes)).toBe(0);
    // 2 istiods x ~1 MiB learnt: 3 istiods now reserve ~3 MiB, so a second such fan-out must wait.
    const holder = sut.run(DEBUG, 3, () => NEVER).subscribe();
    expect(await gauge(metrics.answerBudgetBytes)).toBeGreaterThan(3 * MIB);
    const waiting = sut.run(DEBUG, 3, () => of('late')).subscribe();
    expect(await gauge(metrics.answerBudgetWaiting)).toBe(1);
    holder.unsubscribe();
    expect(await gauge(metrics.answerBudgetWaiting)).toBe(0);
    expect(await gauge(metrics.answerBudgetQueued)).toBe(1);
    waiting.unsubscribe();
  });

  it('fails a fan-out that waited ANSWER_BUDGET_WAIT_MS with RESOURCE_EXHAUSTED naming the variables', async () => {
    const { sut, metrics } = build();
    const holder = sut.run(DEBUG, 1, (reservation) => {
      reservation.resize(MIB);
      return NEVER;
    });
    const held = holder.subscribe();
    const waiting = firstValueFrom(sut.run(DEBUG, 1, () => of('never')));
    const outcome = waiting.then(
      () => undefined,
      (err: unknown) => err,
    );
    await vi.advanceTimersByTimeAsync(1000);
    const error = await outcome;
    expect(error).toBeInstanceOf(RpcException);
    const { code, message } = (error as RpcException).getError() as { code: number; message: string };
    expect(code).toBe(status.RESOURCE_EXHAUSTED);
    expect(message).toContain('MAX_INFLIGHT_ANSWER_BYTES=1048576');
    expect(message).toContain('ANSWER_BUDGET_WAIT_MS');
    expect((await metrics.answerBudgetRejected.get()).values.map((v) => [v.labels.reason, v.value])).toEqual([['timeout', 1]]);
    held.unsubscribe();
  });

  it('a caller leaving while it waits leaves the queue', async () => {
    const { sut, metrics } = build();
    const held = sut.run(DEBUG, 1, (reservation) => (reservation.resize(MIB), NEVER)).subscribe();
    const waiting = sut.run(DEBUG, 1, () => of('x')).subscribe();
    expect(await gauge(metrics.answerBudgetWaiting)).toBe(1);
    waiting.unsubscribe();
    expect(await gauge(metrics.answerBudgetWaiting)).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    held.unsubscribe();
  });
});
