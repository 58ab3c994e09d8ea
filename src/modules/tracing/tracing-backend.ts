import { trace, type TextMapPropagator, type Tracer } from '@opentelemetry/api';
import type { TracingSettings } from '../../config/tracing-settings.js';

/** Where spans go: the SDK's tracer and W3C propagator when tracing is on, the API's no-op tracer when off. */
export interface TracingBackend {
  readonly enabled: boolean;
  readonly tracer: Tracer;
  /** Reads a caller's `traceparent`/`tracestate`; absent when off (nothing to continue). */
  readonly propagator?: TextMapPropagator;
  /** Flushes the spans still batched, then stops exporting. */
  shutdown(): Promise<void>;
}

export const TRACER_NAME = 'istioctl-proxy';

/** Off: @opentelemetry/api only (already loaded by prom-client); its tracer records nothing. */
export const NOOP_TRACING_BACKEND: TracingBackend = {
  enabled: false,
  tracer: trace.getTracer(TRACER_NAME),
  shutdown: () => Promise.resolve(),
};

let sdkLoaded = false;

/** Whether this process has imported the OpenTelemetry SDK (never, unless tracing was configured). */
export function otelSdkLoaded(): boolean {
  return sdkLoaded;
}

/**
 * The SDK, its exporters and their protobuf/HTTP code are imported only when an exporter is
 * configured, so a proxy without tracing does not pay for them in memory or start-up time.
 */
export async function createTracingBackend(settings: TracingSettings): Promise<TracingBackend> {
  if (settings.exporters.length === 0) return NOOP_TRACING_BACKEND;
  const { startOtelSdk } = await import('./otel-sdk.js');
  sdkLoaded = true;
  return startOtelSdk(settings);
}
