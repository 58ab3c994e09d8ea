import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';

/**
 * The real OpenTelemetry SDK with an in-memory exporter, as a Tracing backend: specs read the spans
 * exactly as a collector would receive them.
 */
export function inMemoryTracingBackend() {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const backend = {
    enabled: true as const,
    tracer: provider.getTracer('test'),
    propagator: new W3CTraceContextPropagator(),
    shutdown: () => provider.shutdown(),
  };
  return { backend, exporter };
}
