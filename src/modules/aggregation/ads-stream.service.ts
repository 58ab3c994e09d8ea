import { Metadata, status } from '@grpc/grpc-js';
import { Inject, Injectable } from '@nestjs/common';
import { EMPTY, Observable, catchError, concatMap, defer, finalize, map, takeUntil, tap, throwError } from 'rxjs';
import { requestGate } from '../../adapters/grpc-js.adapter.js';
import { endWithTrailers, trackWrites } from '../../adapters/nest-grpc.adapter.js';
import { APP_CONFIG, AppConfig } from '../../config/app-config.js';
import { DiscoveryRequest, DiscoveryResponse, XdsNode } from '../../common/xds-types.js';
import { CallerIdentities } from '../auth/caller-identities.js';
import { LifecycleService } from '../lifecycle/lifecycle.service.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { AggregateOutcome } from './aggregate-outcome.js';
import { AggregationService } from './aggregation.service.js';
import { CallerContext } from './caller-context.js';
import { AdsCall, callerDeadline } from './call-hooks.js';
import { limitKey } from './caller-key.js';
import { rpcError } from './grpc-errors.js';
import { MISSING_INSTANCES_HEADER } from './partial-result.policy.js';
import { RequestCaller, RequestLog } from './request-log.js';
import { StreamLimits } from './stream-limits.js';
import { StreamState } from './stream-state.js';

/** Trailer saying why the proxy ended a stream with OK (today only `idle`). */
export const STREAM_ENDED_HEADER = 'x-istioctl-proxy-stream-ended';

/**
 * Serves one istioctl stream: every request gets exactly one response (in request order), ACKs get
 * none. The next request is read only once the previous answer is flushed to the caller (a caller
 * that stops reading holds only itself, by HTTP/2 flow control). The stream stays open until the
 * client half-closes or cancels (istioctl does neither explicitly and sets no deadline), or until it
 * has had no request in flight for STREAM_IDLE_TIMEOUT_MS, when it ends with OK.
 */
@Injectable()
export class AdsStreamService {
  private readonly maxRequestsPerStream: number;
  private readonly idleTimeoutMs: number;

  constructor(
    private readonly aggregation: AggregationService,
    private readonly identities: CallerIdentities,
    private readonly lifecycle: LifecycleService,
    private readonly metrics: MetricsService,
    private readonly requestLog: RequestLog,
    private readonly limits: StreamLimits,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.maxRequestsPerStream = config.maxRequestsPerStream;
    this.idleTimeoutMs = config.streamIdleTimeoutMs;
  }

  serve(requests$: Observable<DiscoveryRequest>, metadata: Metadata, call: AdsCall): Observable<DiscoveryResponse> {
    // Slots are taken on subscription, not here: Nest never subscribes when the call was cancelled
    // while the guard verified the token, and an eager slot would then never be released.
    return defer(() => this.open(requests$, metadata, call));
  }

  /** Stream slots held (overall), for tests that check slots are released. */
  get openStreams(): number {
    return this.limits.open;
  }

  private open(requests$: Observable<DiscoveryRequest>, metadata: Metadata, call: AdsCall): Observable<DiscoveryResponse> {
    if (this.lifecycle.isShuttingDown) {
      return throwError(() => rpcError(status.UNAVAILABLE, 'istioctl-proxy is shutting down; retry against another replica'));
    }
    const identity = this.identities.get(metadata);
    const caller: RequestCaller = identity ?? { subject: 'unverified' };
    let release: () => void;
    try {
      release = this.limits.acquire(limitKey(identity, metadata));
    } catch (err) {
      return throwError(() => err);
    }
    this.metrics.openStreams.inc();
    const state = new StreamState(this.maxRequestsPerStream);
    const gate = requestGate(metadata);
    // Every write is an answer, one at a time: once it is flushed the stream may read its next request.
    const requestDone = () => {
      state.done();
      gate.release();
    };
    const trailers = new Metadata();
    endWithTrailers(call, trailers);
    trackWrites(
      call,
      () => this.lifecycle.requestStarted(),
      () => {
        this.lifecycle.requestFinished();
        requestDone();
      },
    );
    const context: CallerContext = { metadata, deadline: callerDeadline(call), identity };
    const idle$ = state
      .idleFor(this.idleTimeoutMs)
      .pipe(tap(() => trailers.set(STREAM_ENDED_HEADER, `idle for STREAM_IDLE_TIMEOUT_MS=${this.idleTimeoutMs}`)));

    return requests$.pipe(
      // Synchronously as each request arrives, so a request past the limit is never fanned out.
      tap(() => state.taken()),
      concatMap((request) =>
        defer(() => {
          if (!state.node) {
            if (!request.node?.id) throw rpcError(status.INVALID_ARGUMENT, 'missing node information');
            state.node = request.node;
          }
          if (state.isAck(request)) {
            requestDone();
            return EMPTY;
          }
          return this.answer(request, state.node, context, caller).pipe(
            map(({ response, missing }) => {
              state.recordSent(response);
              for (const failed of missing) state.missing.add(failed.instance.name);
              if (state.missing.size > 0) trailers.set(MISSING_INSTANCES_HEADER, [...state.missing].join(','));
              if (!state.headersSent) {
                state.headersSent = true;
                const headers = new Metadata();
                if (missing.length > 0) headers.set(MISSING_INSTANCES_HEADER, missing.map((m) => m.instance.name).join(','));
                call.sendMetadata(headers);
              }
              return response;
            }),
          );
        }),
      ),
      takeUntil(idle$),
      finalize(() => {
        release();
        this.metrics.openStreams.dec();
      }),
    );
  }

  /** One request: counted in flight (for graceful shutdown), measured, and logged on one line. */
  private answer(request: DiscoveryRequest, node: XdsNode, context: CallerContext, caller: RequestCaller): Observable<AggregateOutcome> {
    const started = performance.now();
    this.lifecycle.requestStarted();
    return this.aggregation.aggregate(request, node, context).pipe(
      tap((outcome) => this.requestLog.answered(request, caller, outcome, performance.now() - started)),
      catchError((err: unknown) => {
        this.requestLog.failed(request, caller, err, performance.now() - started);
        return throwError(() => err);
      }),
      finalize(() => this.lifecycle.requestFinished()),
    );
  }
}
