import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { response } from '../../../test/kit/xds-fixtures.js';
import { AnswerBudget, AnswerBudgetExhausted, Reservation, responseBytes } from './answer-budget.js';

/** One request's fate, as the budget reported it. */
interface Ticket {
  reservation?: Reservation;
  error?: AnswerBudgetExhausted;
  withdraw: () => void;
}

function build(maxBytes = 100, { maxWaitMs = 1000, maxWaiting = 10 } = {}) {
  const states: Array<{ reservedBytes: number; waiting: number }> = [];
  const sut = new AnswerBudget({ maxBytes, maxWaitMs, maxWaiting, onChange: (state) => states.push(state) });
  const ask = (bytes: number): Ticket => {
    const ticket: Ticket = { withdraw: () => undefined };
    ticket.withdraw = sut.request(
      bytes,
      (reservation) => (ticket.reservation = reservation),
      (error) => (ticket.error = error),
    );
    return ticket;
  };
  return { sut, ask, states };
}

describe('AnswerBudget', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('grants at once while the bytes fit, and queues what does not', () => {
    const { sut, ask } = build(100);
    const a = ask(60);
    const b = ask(40);
    const c = ask(1);
    expect([!!a.reservation, !!b.reservation, !!c.reservation]).toEqual([true, true, false]);
    expect([sut.reservedBytes, sut.waiting]).toEqual([100, 1]);
    a.reservation!.release();
    expect(c.reservation?.bytes).toBe(1);
    expect([sut.reservedBytes, sut.waiting]).toEqual([41, 0]);
  });

  it('serves waiters first come, first served: a small one does not overtake a big one', () => {
    const { ask } = build(100);
    const holder = ask(90);
    const big = ask(50);
    const small = ask(5);
    expect([!!big.reservation, !!small.reservation]).toEqual([false, false]);
    holder.reservation!.release();
    expect([!!big.reservation, !!small.reservation]).toEqual([true, true]);
  });

  it('lets a request larger than the whole budget run alone rather than never', () => {
    const { sut, ask } = build(100);
    const small = ask(10);
    const huge = ask(500);
    expect(huge.reservation).toBeUndefined();
    small.reservation!.release();
    expect(huge.reservation?.bytes).toBe(500);
    const next = ask(1);
    expect(next.reservation).toBeUndefined();
    huge.reservation!.release();
    expect(next.reservation).toBeDefined();
    expect(sut.reservedBytes).toBe(1);
  });

  it('resizes a reservation to the real size: growing holds others back, shrinking lets them in', () => {
    const { sut, ask } = build(100);
    const a = ask(10);
    const b = ask(50);
    a.reservation!.resize(80); // the answers were larger than estimated; they are already in memory
    const c = ask(30);
    expect([sut.reservedBytes, !!c.reservation]).toEqual([130, false]);
    a.reservation!.resize(20);
    expect([sut.reservedBytes, !!c.reservation]).toEqual([100, true]);
    b.reservation!.release();
    b.reservation!.release(); // idempotent
    b.reservation!.resize(999); // ignored once released
    expect(sut.reservedBytes).toBe(50);
  });

  it('refuses a waiter after maxWaitMs with a message naming the variables, and never grants it later', () => {
    const { sut, ask } = build(100, { maxWaitMs: 1000 });
    const holder = ask(100);
    const waiter = ask(10);
    vi.advanceTimersByTime(999);
    expect(waiter.error).toBeUndefined();
    vi.advanceTimersByTime(1);
    expect(waiter.error?.reason).toBe('timeout');
    expect(waiter.error?.message).toContain('ANSWER_BUDGET_WAIT_MS');
    expect(waiter.error?.message).toContain('MAX_INFLIGHT_ANSWER_BYTES=100');
    expect(sut.waiting).toBe(0);
    holder.reservation!.release();
    expect(waiter.reservation).toBeUndefined();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('bounds the queue: past maxWaiting a request is refused at once', () => {
    const { ask } = build(100, { maxWaiting: 2 });
    ask(100);
    ask(1);
    ask(1);
    const third = ask(1);
    expect(third.error?.reason).toBe('queue_full');
    expect(third.error?.message).toContain('ANSWER_BUDGET_MAX_WAITING=2');
  });

  it('a withdrawn waiter leaves the queue and its timer; withdrawing the head admits the next', () => {
    const { sut, ask } = build(100);
    ask(70);
    const head = ask(50);
    const next = ask(30);
    head.withdraw();
    expect([sut.waiting, !!next.reservation, vi.getTimerCount()]).toEqual([0, true, 0]);
    head.withdraw();
    expect(head.reservation).toBeUndefined();
    vi.advanceTimersByTime(10_000);
    expect(head.error).toBeUndefined();
  });

  it('reports reserved bytes and waiters on every change', () => {
    const { ask, states } = build(100);
    const a = ask(100);
    ask(20);
    a.reservation!.release();
    expect(states.at(-1)).toEqual({ reservedBytes: 20, waiting: 0 });
    expect(states).toContainEqual({ reservedBytes: 100, waiting: 1 });
  });
});

describe('responseBytes', () => {
  it('counts the payload bytes of every resource, plus a little per message', () => {
    const payload = { type_url: 'istio.io/debug', value: Buffer.alloc(10_000) };
    const bytes = responseBytes(response('istio.io/debug', [payload, payload]));
    expect(bytes).toBeGreaterThan(20_000);
    expect(bytes).toBeLessThan(21_000);
  });
});
