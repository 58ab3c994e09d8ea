import { status } from '@grpc/grpc-js';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Span, type Tracer } from '@opentelemetry/api';
import { MonoTypeOperatorFunction, Observable, defer, finalize, tap } from 'rxjs';
import { ProtoAny, anyValueLength } from '../../common/xds-types.js';
import type { IstiodInstance } from '../discovery/istiod-instance.js';
import { ATTR, GRPC_CALL, SEMCONV, bounded, boundedList, grpcCodeOf, grpcMessageOf, statusAttributes } from './span-attributes.js';

/** What a span needs of one istiod's result (the fan-out's FanoutResult fits). */
export interface UpstreamResult {
  response?: { resources: readonly ProtoAny[] };
  error?: { code: number; message: string; reason: string };
  skipped?: true;
  latencyMs?: number;
}

/** What a span needs of an aggregated answer (AggregateOutcome fits). */
export interface RequestSummary {
  coalesced: boolean;
  stats: { asked: number; answered: readonly string[]; failed: readonly string[]; skipped: number };
}

/**
 * The span of one istioctl request, handed down to the fan-out so that each istiod asked gets a
 * child span. Counts its children itself, so a request that fails (every istiod down, or
 * PARTIAL_RESULTS=deny) still says how many were asked and how many failed.
 */
export class RequestTrace {
  private readonly children = { asked: 0, answered: 0, failed: 0, skipped: 0 };
  private readonly failedNames: string[] = [];
  private settled = false;

  constructor(
    readonly span: Span,
    private readonly tracer: Tracer,
    private readonly typeName: string,
  ) {}

  /** A CLIENT span per istiod, from the moment it is asked until its result, or until the request is cancelled. */
  upstream<T extends UpstreamResult>(instance: IstiodInstance): MonoTypeOperatorFunction<T> {
    if (!this.span.isRecording()) return (source) => source;
    return (source: Observable<T>) =>
      defer(() => {
        const span = this.tracer.startSpan(
          `xds.istiod ${this.typeName}`,
          {
            kind: SpanKind.CLIENT,
            attributes: {
              ...GRPC_CALL,
              [ATTR.instance]: bounded(instance.name),
              [ATTR.revision]: bounded(instance.revision),
              [SEMCONV.serverAddress]: bounded(instance.address),
              [SEMCONV.serverPort]: instance.port,
            },
          },
          trace.setSpan(ROOT_CONTEXT, this.span),
        );
        this.children.asked++;
        let answered = false;
        return source.pipe(
          tap((result) => {
            answered = true;
            this.recordUpstream(span, instance, result);
          }),
          finalize(() => {
            if (!answered) span.setAttribute(ATTR.outcome, 'cancelled');
            span.end();
          }),
        );
      });
  }

  succeeded(summary: RequestSummary): void {
    this.settled = true;
    const { stats } = summary;
    this.span.setAttributes({
      [ATTR.coalesced]: summary.coalesced,
      [ATTR.outcome]: stats.failed.length > 0 ? 'partial' : 'complete',
      [ATTR.asked]: stats.asked,
      [ATTR.answered]: stats.answered.length,
      [ATTR.failed]: stats.failed.length,
      [ATTR.skipped]: stats.skipped,
      ...statusAttributes(status.OK),
    });
    if (stats.failed.length > 0) this.span.setAttribute(ATTR.missing, boundedList(stats.failed));
  }

  failed(err: unknown): void {
    this.settled = true;
    const code = grpcCodeOf(err);
    this.span.setAttributes({ [ATTR.outcome]: 'error', ...this.childCounts(), ...statusAttributes(code) });
    this.span.setStatus({ code: SpanStatusCode.ERROR, message: grpcMessageOf(err) });
  }

  /** Ends the span; a request neither answered nor failed was cancelled (the caller went away). */
  end(): void {
    if (!this.settled)
      this.span.setAttributes({ [ATTR.outcome]: 'cancelled', ...this.childCounts(), ...statusAttributes(status.CANCELLED) });
    this.span.end();
  }

  private childCounts() {
    const counts = {
      [ATTR.asked]: this.children.asked,
      [ATTR.answered]: this.children.answered,
      [ATTR.failed]: this.children.failed,
      [ATTR.skipped]: this.children.skipped,
    };
    return this.failedNames.length > 0 ? { ...counts, [ATTR.missing]: boundedList(this.failedNames) } : counts;
  }

  private recordUpstream(span: Span, instance: IstiodInstance, result: UpstreamResult): void {
    if (result.latencyMs !== undefined) span.setAttribute(ATTR.latencyMs, result.latencyMs);
    if (result.response) {
      this.children.answered++;
      let bytes = 0;
      for (const resource of result.response.resources) bytes += anyValueLength(resource);
      span.setAttributes({
        [ATTR.outcome]: 'answered',
        [ATTR.responseBytes]: bytes,
        [ATTR.resources]: result.response.resources.length,
        ...statusAttributes(status.OK),
      });
    } else if (result.error) {
      this.children.failed++;
      this.failedNames.push(instance.name);
      span.setAttributes({ [ATTR.outcome]: 'failed', ...statusAttributes(grpcCodeOf(result.error), result.error.reason) });
      span.setStatus({ code: SpanStatusCode.ERROR, message: bounded(result.error.message) });
    } else {
      this.children.skipped++;
      span.setAttribute(ATTR.outcome, 'skipped');
    }
  }
}

/** The fan-out's hook: a child span per istiod when the request is traced, nothing otherwise. */
export function traceUpstream<T extends UpstreamResult>(
  parent: RequestTrace | undefined,
  instance: IstiodInstance,
): MonoTypeOperatorFunction<T> {
  return parent ? parent.upstream<T>(instance) : (source) => source;
}
