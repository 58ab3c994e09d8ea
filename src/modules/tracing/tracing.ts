import { AsyncLocalStorage } from 'node:async_hooks';
import { Metadata, status } from '@grpc/grpc-js';
import { Logger, OnApplicationShutdown } from '@nestjs/common';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, type Context, type Span, type TextMapGetter } from '@opentelemetry/api';
import { Observable, defer, finalize, tap } from 'rxjs';
import type { DiscoveryRequest } from '../../common/xds-types.js';
import type { CallerIdentity } from '../auth/caller-identity.js';
import { RequestSummary, RequestTrace } from './request-trace.js';
import { ATTR, GRPC_CALL, bounded, boundedList, grpcCodeOf, grpcMessageOf, shortType, statusAttributes } from './span-attributes.js';
import { NOOP_TRACING_BACKEND, TracingBackend } from './tracing-backend.js';
import { withTimeout } from '../../common/with-timeout.js';

/** Who asked: the call's metadata (for `traceparent`) and, once verified, the identity (CallerContext fits). */
export interface TracedCaller {
  metadata: Metadata;
  identity?: CallerIdentity;
}

/** How long shutdown waits for the last spans to be exported. */
export const SHUTDOWN_FLUSH_MS = 2_000;

/** gRPC metadata as a propagation carrier: `traceparent` and `tracestate` as the caller sent them. */
const METADATA_GETTER: TextMapGetter<Metadata> = {
  keys: (carrier) => Object.keys(carrier.getMap()),
  get: (carrier, key) => {
    const values = carrier.get(key).map(String);
    return values.length > 0 ? values : undefined;
  },
};

/**
 * The spans of the proxy: one per istioctl request (continuing the caller's `traceparent`), one per
 * istiod asked (a child of it, see RequestTrace), one per token verification. Each method ends its
 * span on every path: answer, error, and cancellation. With tracing off every method just runs the
 * work, and no SDK is loaded.
 */
export class Tracing implements OnApplicationShutdown {
  /** The verification span in progress, for verifiers to mark a cache hit from deep inside `verify`. */
  private readonly verifying = new AsyncLocalStorage<Span>();
  private readonly logger = new Logger('Tracing');

  constructor(
    private readonly backend: TracingBackend,
    /** Bounds a caller-chosen type URL before it names a span (MetricsService.typeUrls). */
    private readonly typeLabel: (typeUrl: string) => string = () => 'other',
  ) {}

  /** Tracing off: for code built without Nest (specs). */
  static readonly off = new Tracing(NOOP_TRACING_BACKEND);

  get enabled(): boolean {
    return this.backend.enabled;
  }

  /** A SERVER span around one request's `work`; `work` gets the span to hand to the fan-out. */
  traceRequest<T extends RequestSummary>(
    request: DiscoveryRequest,
    caller: TracedCaller,
    work: (trace?: RequestTrace) => Observable<T>,
  ): Observable<T> {
    if (!this.backend.enabled) return work(undefined);
    return defer(() => {
      const typeName = shortType(this.typeLabel(request.type_url));
      const span = this.backend.tracer.startSpan(
        `xds.request ${typeName}`,
        { kind: SpanKind.SERVER, attributes: { ...GRPC_CALL, ...requestAttributes(request), ...callerAttributes(caller.identity) } },
        this.parentOf(caller.metadata),
      );
      const handle = new RequestTrace(span, this.backend.tracer, typeName);
      return work(handle).pipe(
        tap({ next: (summary) => handle.succeeded(summary), error: (err: unknown) => handle.failed(err) }),
        finalize(() => handle.end()),
      );
    });
  }

  /** An INTERNAL span around the guard's verification: verifier kind, outcome, cache hit. */
  async traceVerification(metadata: Metadata, verifier: string, verify: () => Promise<CallerIdentity>): Promise<CallerIdentity> {
    if (!this.backend.enabled) return verify();
    const span = this.backend.tracer.startSpan(
      'auth.verify_token',
      { kind: SpanKind.INTERNAL, attributes: { [ATTR.verifier]: verifier, [ATTR.cached]: false } },
      this.parentOf(metadata),
    );
    try {
      const identity = await this.verifying.run(span, verify);
      span.setAttributes({ [ATTR.outcome]: 'ok', ...callerAttributes(identity), ...statusAttributes(status.OK) });
      return identity;
    } catch (err) {
      const code = grpcCodeOf(err);
      span.setAttributes({ [ATTR.outcome]: status[code].toLowerCase(), ...statusAttributes(code) });
      span.setStatus({ code: SpanStatusCode.ERROR, message: grpcMessageOf(err) });
      throw err;
    } finally {
      span.end();
    }
  }

  /** Called by a verifier that answered from its cache (or joined a review in flight). */
  markVerificationCached(): void {
    this.verifying.getStore()?.setAttribute(ATTR.cached, true);
  }

  /**
   * Exports the spans still batched (SIGTERM, app.close), for at most SHUTDOWN_FLUSH_MS: an
   * unreachable collector (the exporter retries) must not hold the process past its grace period.
   */
  async onApplicationShutdown(): Promise<void> {
    const flushed = this.backend.shutdown().then(
      () => true,
      (err: unknown) => this.logger.warn(`spans not exported at shutdown: ${err instanceof Error ? err.message : String(err)}`),
    );
    if ((await withTimeout(flushed, SHUTDOWN_FLUSH_MS, () => false)) === false)
      this.logger.warn(`spans not exported within ${SHUTDOWN_FLUSH_MS} ms of shutdown`);
  }

  private parentOf(metadata: Metadata): Context {
    return this.backend.propagator?.extract(ROOT_CONTEXT, metadata, METADATA_GETTER) ?? ROOT_CONTEXT;
  }
}

function requestAttributes(request: DiscoveryRequest) {
  const names = request.resource_names ?? [];
  return {
    [ATTR.typeUrl]: bounded(request.type_url),
    [ATTR.resourceNames]: boundedList(names),
    [ATTR.resourceNameCount]: names.length,
  };
}

function callerAttributes(identity: CallerIdentity | undefined) {
  if (!identity) return {};
  const subject = { [ATTR.callerSubject]: bounded(identity.subject) };
  return identity.clusterId ? { ...subject, [ATTR.callerCluster]: bounded(identity.clusterId) } : subject;
}
