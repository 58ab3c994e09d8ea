import { status } from '@grpc/grpc-js';
import { Inject, Injectable } from '@nestjs/common';
import { Observable, finalize, switchMap } from 'rxjs';
import { APP_CONFIG, AppConfig } from '../../config/app-config.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { AnswerBudget, AnswerBudgetExhausted, Reservation, responseBytes } from './answer-budget.js';
import { FanoutResult, isAnswer } from './fanout-result.js';
import { rpcError } from './grpc-errors.js';

/** What one istiod's answer is assumed to take before any answer of its type was seen. */
export const MIN_ANSWER_ESTIMATE_BYTES = 64 * 1024;

/**
 * MAX_INFLIGHT_ANSWER_BYTES applied to fan-outs: each reserves what its answers are expected to
 * take (the last answers of its type URL, per istiod, or MIN_ANSWER_ESTIMATE_BYTES) before asking
 * any istiod, holds the real size once they are in, and frees it when the merged answer has been
 * handed to its callers. Fan-outs that do not fit wait their turn (ANSWER_BUDGET_WAIT_MS,
 * ANSWER_BUDGET_MAX_WAITING), then fail with RESOURCE_EXHAUSTED instead of the pod being OOM-killed.
 */
@Injectable()
export class AnswerMemory {
  private readonly budget: AnswerBudget;
  /** Keyed by the bounded type URL label, so it holds at most one entry per label value. */
  private readonly perInstanceBytes = new Map<string, number>();

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly metrics: MetricsService,
  ) {
    this.budget = new AnswerBudget({
      maxBytes: config.maxInflightAnswerBytes,
      maxWaitMs: config.answerBudgetWaitMs,
      maxWaiting: config.answerBudgetMaxWaiting,
      onChange: ({ reservedBytes, waiting }) => {
        metrics.answerBudgetBytes.set(reservedBytes);
        metrics.answerBudgetWaiting.set(waiting);
      },
    });
  }

  /** Runs `work` once `instances` answers of `typeUrl` fit; the reservation is released when it ends. */
  run<T>(typeUrl: string, instances: number, work: (reservation: Reservation) => Observable<T>): Observable<T> {
    const label = this.metrics.typeUrls.label(typeUrl);
    const estimate = Math.max(1, instances) * (this.perInstanceBytes.get(label) ?? MIN_ANSWER_ESTIMATE_BYTES);
    return this.reserve(estimate).pipe(switchMap((reservation) => work(reservation).pipe(finalize(() => reservation.release()))));
  }

  /** Holds the answers' real size from now on, and remembers it as the next estimate for the type URL. */
  answersArrived(typeUrl: string, reservation: Reservation, results: FanoutResult[]): void {
    const answers = results.filter(isAnswer);
    const bytes = answers.reduce((sum, answer) => sum + responseBytes(answer.response), 0);
    if (answers.length > 0) this.perInstanceBytes.set(this.metrics.typeUrls.label(typeUrl), Math.ceil(bytes / answers.length));
    reservation.resize(bytes);
  }

  private reserve(bytes: number): Observable<Reservation> {
    return new Observable<Reservation>((subscriber) => {
      const withdraw = this.budget.request(
        bytes,
        (reservation) => {
          if (subscriber.closed) {
            reservation.release();
            return;
          }
          subscriber.next(reservation);
          subscriber.complete();
        },
        (error: AnswerBudgetExhausted) => {
          this.metrics.answerBudgetRejected.inc({ reason: error.reason });
          subscriber.error(rpcError(status.RESOURCE_EXHAUSTED, error.message));
        },
      );
      // Neither granted nor refused at once: this fan-out waits its turn.
      if (!subscriber.closed) this.metrics.answerBudgetQueued.inc();
      return withdraw;
    });
  }
}
