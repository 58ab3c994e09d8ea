import { Metadata, ServerDuplexStream, status } from '@grpc/grpc-js';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { RpcException } from '@nestjs/microservices';
import { EMPTY, Observable, catchError, concatMap, defer, finalize, map, tap, throwError } from 'rxjs';
import { APP_CONFIG, AppConfig } from '../../config/app-config.js';
import { DiscoveryRequest, DiscoveryResponse, XdsNode } from '../../common/xds-types.js';
import { CallerIdentities } from '../auth/caller-identities.js';
import { CallerIdentity } from '../auth/caller-identity.js';
import { LifecycleService } from '../lifecycle/lifecycle.service.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { AggregateOutcome, AggregationService, MISSING_INSTANCES_HEADER } from './aggregation.service.js';
import { rpcError } from './grpc-errors.js';
import { StreamLimits } from './stream-limits.js';

/** What one StreamAggregatedResources call remembers between its requests. */
class StreamState {
  node: XdsNode | undefined;
  headersSent = false;
  readonly missing = new Set<string>();
  private readonly sentNonces = new Map<string, Set<string>>();

  recordSent(response: DiscoveryResponse): void {
    let nonces = this.sentNonces.get(response.type_url);
    if (!nonces) this.sentNonces.set(response.type_url, (nonces = new Set()));
    nonces.add(response.nonce);
  }

  /** An ACK/NACK echoes a nonce this proxy sent for that type; istioctl's first nonce is a timestamp. */
  isAck(request: DiscoveryRequest): boolean {
    return !!request.response_nonce && !!this.sentNonces.get(request.type_url)?.has(request.response_nonce);
  }
}

type AdsCall = ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>;

/**
 * Serves one istioctl stream: every request gets exactly one response (in request order), ACKs get
 * none, and the stream stays open until the client half-closes or cancels (istioctl does neither
 * explicitly and sets no deadline, so nothing here waits for either).
 */
@Injectable()
export class AdsStreamService {
  private readonly logger = new Logger('Requests');
  private readonly limits: StreamLimits;

  constructor(
    private readonly aggregation: AggregationService,
    private readonly identities: CallerIdentities,
    private readonly lifecycle: LifecycleService,
    private readonly metrics: MetricsService,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.limits = new StreamLimits(config.maxConcurrentStreams, config.maxStreamsPerCaller);
  }

  serve(requests$: Observable<DiscoveryRequest>, metadata: Metadata, call: AdsCall): Observable<DiscoveryResponse> {
    // Slots are taken on subscription, not here: Nest never subscribes when the call was cancelled
    // while the guard verified the token, and an eager slot would then never be released.
    return defer(() => this.open(requests$, metadata, call));
  }

  private open(requests$: Observable<DiscoveryRequest>, metadata: Metadata, call: AdsCall): Observable<DiscoveryResponse> {
    if (this.lifecycle.isShuttingDown) {
      return throwError(() => rpcError(status.UNAVAILABLE, 'istioctl-proxy is shutting down; retry against another replica'));
    }
    const identity = this.identities.get(metadata);
    const caller = identity?.subject ?? 'unverified';
    let release: () => void;
    try {
      release = this.limits.acquire(caller);
    } catch (err) {
      return throwError(() => err);
    }
    this.metrics.openStreams.inc();
    const state = new StreamState();
    const trailers = new Metadata();
    // Nest ends the call with a bare end(); route our trailers through it.
    const end = call.end.bind(call) as (metadata?: Metadata) => void;
    call.end = ((md?: Metadata) => end(md ?? trailers)) as typeof call.end;
    this.trackWrites(call);
    const deadline = callerDeadline(call);

    return requests$.pipe(
      concatMap((request) =>
        defer(() => {
          if (!state.node) {
            if (!request.node?.id) throw rpcError(status.INVALID_ARGUMENT, 'missing node information');
            state.node = request.node;
          }
          if (state.isAck(request)) return EMPTY;
          return this.answer(request, state.node, { metadata, deadline, identity }, caller).pipe(
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
      finalize(() => {
        release();
        this.metrics.openStreams.dec();
      }),
    );
  }

  /**
   * A response stays in flight (for graceful shutdown) until grpc-js has handed its bytes to the
   * connection, not just until Nest called write(): closing the server under a half-sent multi-MiB
   * answer would cancel it. A call that ends first (cancelled, reset) never completes its writes.
   */
  private trackWrites(call: AdsCall): void {
    const pending = new Set<() => void>();
    const write = call.write.bind(call) as (chunk: DiscoveryResponse, callback: (error?: Error | null) => void) => boolean;
    // Nest writes with a bare write(value).
    call.write = ((chunk: DiscoveryResponse) => {
      this.lifecycle.requestStarted();
      let done = false;
      const flushed = () => {
        if (done) return;
        done = true;
        pending.delete(flushed);
        this.lifecycle.requestFinished();
      };
      pending.add(flushed);
      return write(chunk, flushed);
    }) as typeof call.write;
    call.once('close', () => {
      for (const flushed of [...pending]) flushed();
    });
  }

  /** One request: counted in flight (for graceful shutdown), measured, and logged on one line. */
  private answer(request: DiscoveryRequest, node: XdsNode, context: { metadata: Metadata; deadline?: Date; identity?: CallerIdentity }, caller: string): Observable<AggregateOutcome> {
    const started = performance.now();
    let done = false;
    this.lifecycle.requestStarted();
    const settle = () => {
      if (!done) {
        done = true;
        this.lifecycle.requestFinished();
      }
    };
    return this.aggregation.aggregate(request, node, context).pipe(
      tap((outcome) => {
        this.metrics.requests.inc({ type_url: request.type_url, code: 'OK' });
        this.logger.log({
          msg: 'istioctl request',
          caller,
          type_url: request.type_url,
          resource_names: request.resource_names,
          instances_asked: outcome.stats.asked,
          instances_answered: outcome.stats.answered,
          instances_failed: outcome.stats.failed,
          instances_skipped: outcome.stats.skipped,
          coalesced: outcome.coalesced,
          resources: outcome.response.resources.length,
          duration_ms: Math.round(performance.now() - started),
          code: 'OK',
        });
      }),
      catchError((err: unknown) => {
        const code = err instanceof RpcException ? (err.getError() as { code?: number }).code : undefined;
        const codeName = status[code ?? status.UNKNOWN] ?? 'UNKNOWN';
        this.metrics.requests.inc({ type_url: request.type_url, code: codeName });
        this.logger.warn({
          msg: 'istioctl request failed',
          caller,
          type_url: request.type_url,
          resource_names: request.resource_names,
          duration_ms: Math.round(performance.now() - started),
          code: codeName,
          error: err instanceof RpcException ? (err.getError() as { message?: string }).message : String(err),
        });
        return throwError(() => err);
      }),
      finalize(settle),
    );
  }

  get openStreams(): number {
    return this.limits.open;
  }
}

function callerDeadline(call: ServerDuplexStream<unknown, unknown>): Date | undefined {
  const deadline = call.getDeadline();
  if (deadline instanceof Date) return deadline;
  return Number.isFinite(deadline) ? new Date(deadline) : undefined;
}
