import { Metadata } from '@grpc/grpc-js';
import { Injectable } from '@nestjs/common';
import {
  Observable,
  ReplaySubject,
  catchError,
  defaultIfEmpty,
  filter,
  forkJoin,
  map,
  of,
  takeUntil,
  tap,
  throwError,
  timeout,
} from 'rxjs';
import { Clock } from '../../common/clock.js';
import { DiscoveryRequest } from '../../common/xds-types.js';
import { IstiodInstance } from '../discovery/istiod-instance.js';
import { RequestTrace, traceUpstream } from '../tracing/request-trace.js';
import { FanoutResult, InstanceAnswer, isAnswer } from './fanout-result.js';
import { failureFromError, timeoutFailure } from './grpc-errors.js';
import { UpstreamCaller } from './istiod.client.js';

export interface FanoutOptions {
  /** Per-instance budget; each instance has its own timer, so one hung replica costs only itself. */
  timeoutMs: number;
  /** An answer for which this returns true ends the fan-out: the others are cancelled and marked skipped. */
  isConclusive?: (answer: InstanceAnswer) => boolean;
  /** The request's span: each instance asked gets a child span. */
  trace?: RequestTrace;
}

/** grpc-js's own deadline is a backstop behind the RxJS timer, which is what reports the timeout. */
const GRPC_DEADLINE_GRACE_MS = 1_000;

/**
 * One request in, one result per instance out, all asked in parallel. forkJoin waits for every
 * per-instance observable, each of which always emits exactly one value: an answer, an error
 * turned into a value, or "skipped" when a conclusive answer made it unnecessary.
 */
@Injectable()
export class FanoutService {
  constructor(
    private readonly caller: UpstreamCaller,
    private readonly clock: Clock,
  ) {}

  fanOut(instances: IstiodInstance[], request: DiscoveryRequest, metadata: Metadata, options: FanoutOptions): Observable<FanoutResult[]> {
    if (instances.length === 0) return of([]);
    // Replays the name of the instance that concluded, so instances subscribed later are skipped
    // at once, and the concluding instance is never cut off by its own signal.
    const concluded$ = new ReplaySubject<string>(1);
    let arrivals = 0;
    const deadline = new Date(this.clock.now() + options.timeoutMs + GRPC_DEADLINE_GRACE_MS);
    const perInstance = instances.map((instance) => {
      const started = performance.now();
      const elapsed = () => Math.round(performance.now() - started);
      return this.caller.ask(instance, request, metadata, deadline).pipe(
        timeout({ first: options.timeoutMs, with: () => throwError(() => timeoutFailure(options.timeoutMs)) }),
        map((response): FanoutResult => ({ instance, response, arrival: arrivals++, latencyMs: elapsed() })),
        catchError((err: unknown) => of<FanoutResult>({ instance, error: failureFromError(err), latencyMs: elapsed() })),
        takeUntil(concluded$.pipe(filter((name) => name !== instance.name))),
        defaultIfEmpty<FanoutResult, FanoutResult>({ instance, skipped: true }),
        tap((result) => {
          if (isAnswer(result) && options.isConclusive?.(result)) concluded$.next(instance.name);
        }),
        traceUpstream(options.trace, instance),
      );
    });
    return forkJoin(perInstance);
  }
}
