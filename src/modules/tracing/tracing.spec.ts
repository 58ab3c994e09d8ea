import { Metadata, status } from '@grpc/grpc-js';
import { RpcException } from '@nestjs/microservices';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { NEVER, Observable, firstValueFrom, map, of, throwError } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { inMemoryTracingBackend } from '../../../test/kit/in-memory-tracing.js';
import { debugAny, instance, request, response } from '../../../test/kit/xds-fixtures.js';
import { SystemClock } from '../../common/clock.js';
import { DiscoveryResponse } from '../../common/xds-types.js';
import { statsOf } from '../aggregation/aggregate-outcome.js';
import { FanoutService } from '../aggregation/fanout.service.js';
import { rpcError } from '../aggregation/grpc-errors.js';
import { UpstreamCaller } from '../aggregation/istiod.client.js';
import { identityFromSubject } from '../auth/caller-identity.js';
import { IstiodInstance } from '../discovery/istiod-instance.js';
import { ATTR, MAX_ATTRIBUTE_CHARS, MAX_LISTED } from './span-attributes.js';
import { Tracing } from './tracing.js';

const SYNCZ = 'istio.io/debug/syncz';
const TOKEN = 'eyJhbGciOiJSUzI1NiJ9.secret-claims.secret-signature';
const PAYLOAD = 'SECRET-PAYLOAD-do-not-trace';
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN_ID = '00f067aa0ba902b7';
const caller = { ...identityFromSubject('system:serviceaccount:istio-system:default'), clusterId: 'east' };

/** The real SDK with an in-memory exporter: spans are checked as a collector would receive them. */
function build() {
  const { backend, exporter } = inMemoryTracingBackend();
  const spans = () => exporter.getFinishedSpans();
  const named = (prefix: string) => spans().filter((span) => span.name.startsWith(prefix));
  return { sut: new Tracing(backend, (typeUrl) => typeUrl), spans, named };
}

/** The network edge, replaced: each istiod answers (or fails, or hangs) as the test says. */
class ScriptedCaller extends UpstreamCaller {
  constructor(private readonly behaviours: Record<string, () => Observable<DiscoveryResponse>>) {
    super();
  }
  ask(target: IstiodInstance): Observable<DiscoveryResponse> {
    return this.behaviours[target.name]();
  }
}

function callMetadata(traceparent = true): Metadata {
  const metadata = new Metadata();
  metadata.set('authorization', `Bearer ${TOKEN}`);
  if (traceparent) metadata.set('traceparent', `00-${TRACE_ID}-${CALLER_SPAN_ID}-01`);
  return metadata;
}

/** One request through the real fan-out: a answers, b fails, c hangs past the timeout. */
function fanOut(sut: Tracing, behaviours: Record<string, () => Observable<DiscoveryResponse>>, timeoutMs = 50) {
  const fanout = new FanoutService(new ScriptedCaller(behaviours), new SystemClock());
  const instances = Object.keys(behaviours).map((name) => instance(name));
  const req = request(SYNCZ, ['reviews-v1.bookinfo']);
  return sut.traceRequest(req, { metadata: callMetadata(), identity: caller }, (trace) =>
    fanout
      .fanOut(instances, req, new Metadata(), { timeoutMs, trace })
      .pipe(map((results) => ({ coalesced: false, stats: statsOf(results) }))),
  );
}

const answers = () => of(response(SYNCZ, [debugAny(PAYLOAD)]));
const refuses = () => throwError(() => ({ code: status.UNAVAILABLE, details: 'connection refused' }));

describe('Tracing: one request', () => {
  it('is a SERVER span continuing the caller traceparent, with one CLIENT child per istiod asked', async () => {
    const { sut, named } = build();
    await firstValueFrom(fanOut(sut, { a: answers, b: refuses, c: () => NEVER }));

    const [req] = named('xds.request');
    expect(req.name).toBe('xds.request syncz');
    expect(req.kind).toBe(SpanKind.SERVER);
    expect(req.spanContext().traceId).toBe(TRACE_ID);
    expect(req.parentSpanContext?.spanId).toBe(CALLER_SPAN_ID);
    expect(req.attributes).toMatchObject({
      [ATTR.typeUrl]: SYNCZ,
      [ATTR.resourceNames]: ['reviews-v1.bookinfo'],
      [ATTR.callerSubject]: 'system:serviceaccount:istio-system:default',
      [ATTR.callerCluster]: 'east',
      [ATTR.coalesced]: false,
      [ATTR.outcome]: 'partial',
      [ATTR.asked]: 3,
      [ATTR.answered]: 1,
      [ATTR.failed]: 2,
      [ATTR.missing]: ['b', 'c'],
      'rpc.status_code': 'OK',
    });

    const children = named('xds.istiod');
    expect(children.map((span) => span.attributes[ATTR.instance])).toEqual(['a', 'b', 'c']);
    for (const child of children) {
      expect(child.kind).toBe(SpanKind.CLIENT);
      expect(child.parentSpanContext?.spanId).toBe(req.spanContext().spanId);
      expect(child.spanContext().traceId).toBe(TRACE_ID);
    }
    const [a, b, c] = children;
    expect(a.attributes).toMatchObject({ [ATTR.outcome]: 'answered', [ATTR.responseBytes]: PAYLOAD.length, [ATTR.resources]: 1 });
    expect(a.attributes[ATTR.latencyMs]).toBeTypeOf('number');
    expect(b.attributes).toMatchObject({ [ATTR.outcome]: 'failed', 'rpc.status_code': 'UNAVAILABLE', 'error.type': 'unavailable' });
    expect(b.status).toEqual({ code: SpanStatusCode.ERROR, message: 'connection refused' });
    expect(c.attributes).toMatchObject({ [ATTR.outcome]: 'failed', 'rpc.status_code': 'DEADLINE_EXCEEDED', 'error.type': 'timeout' });
  });

  it('starts a new trace when the caller sends no traceparent', async () => {
    const { sut, named } = build();
    await firstValueFrom(
      sut.traceRequest(request(SYNCZ), { metadata: callMetadata(false) }, () => of({ coalesced: true, stats: statsOf([]) })),
    );
    const [req] = named('xds.request');
    expect(req.parentSpanContext).toBeUndefined();
    expect(req.spanContext().traceId).not.toBe(TRACE_ID);
    expect(req.attributes[ATTR.coalesced]).toBe(true);
  });

  it('a failed request ends with the gRPC status and the counts of its children', async () => {
    const { sut, named } = build();
    const fanout = new FanoutService(new ScriptedCaller({ a: refuses }), new SystemClock());
    const failed = sut.traceRequest(request(SYNCZ), { metadata: callMetadata() }, (trace) =>
      fanout.fanOut([instance('a')], request(SYNCZ), new Metadata(), { timeoutMs: 50, trace }).pipe(
        map((): { coalesced: boolean; stats: ReturnType<typeof statsOf> } => {
          throw rpcError(status.UNAVAILABLE, 'every istiod failed: a: connection refused');
        }),
      ),
    );
    await expect(firstValueFrom(failed)).rejects.toBeInstanceOf(RpcException);
    const [req] = named('xds.request');
    expect(req.attributes).toMatchObject({ [ATTR.outcome]: 'error', [ATTR.asked]: 1, [ATTR.failed]: 1, 'rpc.status_code': 'UNAVAILABLE' });
    expect(req.status).toEqual({ code: SpanStatusCode.ERROR, message: 'every istiod failed: a: connection refused' });
    expect(named('xds.istiod')).toHaveLength(1);
  });

  it('a cancelled request ends its span and the spans of the istiods still asked', () => {
    const { sut, named, spans } = build();
    const subscription = fanOut(sut, { a: answers, b: () => NEVER }, 60_000).subscribe();
    expect(spans()).toHaveLength(1); // a answered; b is still asked
    subscription.unsubscribe();
    expect(named('xds.request')[0].attributes).toMatchObject({ [ATTR.outcome]: 'cancelled', 'rpc.status_code': 'CANCELLED' });
    expect(named('xds.istiod').map((span) => span.attributes[ATTR.outcome])).toEqual(['answered', 'cancelled']);
    expect(spans().every((span) => span.ended)).toBe(true);
  });

  it('bounds what the caller chose: resource names by count and length', async () => {
    const { sut, named } = build();
    const names = ['x'.repeat(10_000), ...Array.from({ length: 40 }, (_, i) => `pod-${i}.ns`)];
    await firstValueFrom(
      sut.traceRequest(request(SYNCZ, names), { metadata: callMetadata() }, () => of({ coalesced: false, stats: statsOf([]) })),
    );
    const { attributes } = named('xds.request')[0];
    const listed = attributes[ATTR.resourceNames] as string[];
    expect(listed).toHaveLength(MAX_LISTED);
    expect(listed[0].length).toBeLessThanOrEqual(MAX_ATTRIBUTE_CHARS + 1);
    expect(attributes[ATTR.resourceNameCount]).toBe(41);
  });
});

describe('Tracing: token verification', () => {
  it('records the verifier, the outcome, the caller and a cache hit marked from inside the verifier', async () => {
    const { sut, named } = build();
    const identity = await sut.traceVerification(callMetadata(), 'tokenreview', async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      sut.markVerificationCached(); // what TokenReviewVerifier's onCacheHit does, after an await
      return caller;
    });
    expect(identity).toBe(caller);
    await sut.traceVerification(callMetadata(), 'jwks', () => Promise.resolve(caller));
    const [cached, fresh] = named('auth.verify_token');
    expect(cached.parentSpanContext?.spanId).toBe(CALLER_SPAN_ID);
    expect(cached.attributes).toMatchObject({
      [ATTR.verifier]: 'tokenreview',
      [ATTR.cached]: true,
      [ATTR.outcome]: 'ok',
      [ATTR.callerSubject]: caller.subject,
      [ATTR.callerCluster]: 'east',
    });
    expect(fresh.attributes).toMatchObject({ [ATTR.verifier]: 'jwks', [ATTR.cached]: false });
    sut.markVerificationCached(); // outside any verification: nothing to mark, nothing thrown
  });

  it('a rejection ends the span with its gRPC code and rethrows', async () => {
    const { sut, named } = build();
    const rejection = new RpcException({ code: status.UNAUTHENTICATED, message: 'authentication failed: token expired' });
    await expect(sut.traceVerification(callMetadata(), 'jwks', () => Promise.reject(rejection))).rejects.toBe(rejection);
    const [span] = named('auth.verify_token');
    expect(span.attributes).toMatchObject({ [ATTR.outcome]: 'unauthenticated', 'rpc.status_code': 'UNAUTHENTICATED' });
    expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: 'authentication failed: token expired' });
    expect(span.ended).toBe(true);
  });
});

describe('Tracing: what never goes in a span', () => {
  it('no span name, attribute or status carries the bearer token or Any payload bytes', async () => {
    const { sut, spans } = build();
    await firstValueFrom(fanOut(sut, { a: answers, b: refuses }));
    await sut.traceVerification(callMetadata(), 'jwks', () => Promise.resolve(caller));
    const text = JSON.stringify(spans().map((span: ReadableSpan) => [span.name, span.attributes, span.status, span.events]));
    expect(spans().length).toBe(4);
    expect(text).not.toContain(TOKEN);
    expect(text).not.toContain('secret-signature');
    expect(text).not.toContain(PAYLOAD);
  });
});
