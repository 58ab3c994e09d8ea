import { Logger } from '@nestjs/common';
import { DiagLogLevel, diag, type DiagLogger } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { defaultResource, detectResources, envDetector, hostDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, ConsoleSpanExporter, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import type { TraceExporterName, TracingSettings } from '../../config/tracing-settings.js';
import { TRACER_NAME, type TracingBackend } from './tracing-backend.js';

/**
 * Loaded only when tracing is configured (see createTracingBackend). The SDK reads the standard
 * environment itself: OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT/HEADERS/TIMEOUT/COMPRESSION in the
 * exporters, OTEL_BSP_* in the batch processor, OTEL_TRACES_SAMPLER[_ARG] and span limits in the
 * provider, OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES in the resource. The provider is not
 * registered globally: the proxy's spans come from this tracer only, and each app has its own.
 */
export async function startOtelSdk(settings: TracingSettings): Promise<TracingBackend> {
  const logger = new Logger('Tracing');
  routeSdkDiagnostics(logger);
  const exporters = await Promise.all(settings.exporters.map((name) => createExporter(name, settings)));
  const provider = new BasicTracerProvider({
    resource: defaultResource()
      .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: TRACER_NAME }))
      .merge(detectResources({ detectors: [hostDetector, envDetector] })),
    spanProcessors: exporters.map((exporter) => new BatchSpanProcessor(exporter)),
  });
  logger.log(`tracing on: ${settings.exporters.map((name) => (name === 'otlp' ? `otlp (${settings.otlpProtocol})` : name)).join(', ')}`);
  return {
    enabled: true,
    tracer: provider.getTracer(TRACER_NAME),
    propagator: new W3CTraceContextPropagator(),
    shutdown: () => provider.shutdown(),
  };
}

async function createExporter(name: TraceExporterName, settings: TracingSettings): Promise<SpanExporter> {
  if (name === 'console') return new ConsoleSpanExporter();
  if (settings.otlpProtocol === 'http/json') {
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
    return new OTLPTraceExporter();
  }
  const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-proto');
  return new OTLPTraceExporter();
}

/** The SDK reports failed exports (collector unreachable, rejected batch) through `diag`: show them as warnings. */
function routeSdkDiagnostics(logger: Logger): void {
  const write =
    (level: 'warn' | 'error') =>
    (message: string, ...args: unknown[]) =>
      logger[level](['OpenTelemetry:', message, ...args.map((arg) => (arg instanceof Error ? arg.message : String(arg)))].join(' '));
  const sink: DiagLogger = { error: write('error'), warn: write('warn'), info: () => {}, debug: () => {}, verbose: () => {} };
  diag.setLogger(sink, { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });
}
