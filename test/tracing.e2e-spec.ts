import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { otelSdkLoaded } from '../src/modules/tracing/tracing-backend.js';
import { Tracing } from '../src/modules/tracing/tracing.js';
import { buildDemoMesh } from '../tools/sim/mesh-fixtures.js';
import { startMesh, type MeshHarness } from './kit/mesh-harness.js';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from './kit/otlp-receiver.js';
import { waitFor } from './kit/wait-for.js';

const SYNCZ = 'istio.io/debug/syncz';
const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const CALLER_SPAN_ID = 'b7ad6b7169203331';
const SERVER = 2;
const CLIENT = 3;

/** SDK modules (CommonJS) this process has loaded; ESM imports of them are listed here too. */
function loadedSdkModules(): string[] {
  return Object.keys(createRequire(import.meta.url).cache).filter((path) =>
    /@opentelemetry[\\/](sdk-trace|exporter-trace|resources|core)[-\\/]/.test(path),
  );
}

// Off first: once a proxy with tracing has loaded the SDK, it stays loaded in this process.
describe('tracing off (no OTEL_* variables)', () => {
  let mesh: MeshHarness;

  beforeAll(async () => {
    mesh = await startMesh({ istiods: buildDemoMesh() });
  });
  afterAll(async () => mesh?.stop());

  it('answers as usual and never loads the OpenTelemetry SDK', async () => {
    const { response } = await mesh.client({ metadata: { traceparent: `00-${TRACE_ID}-${CALLER_SPAN_ID}-01` } }).request(SYNCZ);
    expect(response.resources.length).toBeGreaterThan(0);
    expect(mesh.proxy.app.get(Tracing).enabled).toBe(false);
    expect(otelSdkLoaded()).toBe(false);
    expect(loadedSdkModules()).toEqual([]);
  });
});

describe('tracing on (OTLP/HTTP json to a local receiver)', () => {
  let mesh: MeshHarness;
  let receiver: OtlpReceiver;
  let otelEnv: Record<string, string>;

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    otelEnv = {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_SERVICE_NAME: 'istioctl-proxy-e2e',
    };
    // The proxy's config decides that tracing is on; the SDK reads the rest from process.env, as in production.
    Object.assign(process.env, otelEnv);
    mesh = await startMesh({ istiods: buildDemoMesh(), env: otelEnv });
  });
  afterAll(async () => {
    await mesh?.stop();
    await receiver?.close();
    for (const name of Object.keys(otelEnv ?? {})) delete process.env[name];
  });

  const inTrace = (traceId: string) => receiver.spans.filter((span) => span.traceId === traceId);
  const named = (spans: ReceivedSpan[], prefix: string) => spans.filter((span) => span.name.startsWith(prefix));

  it('a proxy-status continues the caller trace: request span, one child per istiod, token verification', async () => {
    const { response } = await mesh.client({ metadata: { traceparent: `00-${TRACE_ID}-${CALLER_SPAN_ID}-01` } }).request(SYNCZ);
    expect(response.resources.length).toBeGreaterThan(0);
    const istiods = mesh.istiods.map((istiod) => istiod.podName).sort();
    const expected = 2 + istiods.length;
    expect(await waitFor(() => inTrace(TRACE_ID).length >= expected, 10_000), `spans received: ${receiver.spans.length}`).toBe(true);
    expect(otelSdkLoaded()).toBe(true);

    const spans = inTrace(TRACE_ID);
    const requests = named(spans, 'xds.request');
    expect(requests).toHaveLength(1);
    const [request] = requests;
    expect(request).toMatchObject({ name: 'xds.request syncz', kind: SERVER, parentSpanId: CALLER_SPAN_ID });
    expect(request.attributes).toMatchObject({
      'istioctl_proxy.xds.type_url': SYNCZ,
      'istioctl_proxy.caller.subject': 'system:serviceaccount:istio-system:default',
      'istioctl_proxy.outcome': 'complete',
      'istioctl_proxy.istiods.asked': istiods.length,
      'istioctl_proxy.istiods.answered': istiods.length,
      'istioctl_proxy.istiods.failed': 0,
      'istioctl_proxy.coalesced': false,
      'rpc.status_code': 'OK',
    });
    expect(request.resource['service.name']).toBe('istioctl-proxy-e2e');

    const children = named(spans, 'xds.istiod');
    expect(children.map((span) => span.attributes['istioctl_proxy.istiod.instance']).sort()).toEqual(istiods);
    for (const child of children) {
      expect(child).toMatchObject({ kind: CLIENT, parentSpanId: request.spanId });
      expect(child.attributes).toMatchObject({ 'istioctl_proxy.outcome': 'answered' });
      expect(child.attributes['istioctl_proxy.istiod.response_bytes']).toBeGreaterThan(0);
      expect(child.attributes['istioctl_proxy.istiod.latency_ms']).toBeTypeOf('number');
    }

    const [verification] = named(spans, 'auth.verify_token');
    expect(verification).toMatchObject({ parentSpanId: CALLER_SPAN_ID });
    expect(verification.attributes).toMatchObject({
      'istioctl_proxy.auth.verifier': 'jwks',
      'istioctl_proxy.auth.cached': false,
      'istioctl_proxy.outcome': 'ok',
    });
    for (const body of receiver.bodies) expect(body).not.toContain(mesh.istioctlToken);
  });

  it('a partial answer says which istiod failed and why, on the request span and on its child', async () => {
    const traceId = 'f'.repeat(31) + '1';
    const failing = mesh.istiods[2];
    failing.knobs.notReady = true;
    try {
      const { headers } = await mesh.client({ metadata: { traceparent: `00-${traceId}-${CALLER_SPAN_ID}-01` } }).request(SYNCZ);
      expect(headers['x-istioctl-proxy-missing']).toBe(failing.podName);
    } finally {
      failing.knobs.notReady = false;
    }
    expect(await waitFor(() => named(inTrace(traceId), 'xds.').length >= 1 + mesh.istiods.length, 10_000)).toBe(true);
    const [request] = named(inTrace(traceId), 'xds.request');
    expect(request.attributes).toMatchObject({
      'istioctl_proxy.outcome': 'partial',
      'istioctl_proxy.istiods.failed': 1,
      'istioctl_proxy.istiods.missing': [failing.podName],
    });
    const child = named(inTrace(traceId), 'xds.istiod').find(
      (span) => span.attributes['istioctl_proxy.istiod.instance'] === failing.podName,
    );
    expect(child?.attributes).toMatchObject({ 'istioctl_proxy.outcome': 'failed', 'rpc.status_code': 'UNAVAILABLE' });
    expect(child?.status.message).toContain('not ready');
  });
});
