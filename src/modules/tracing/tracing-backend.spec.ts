import { createRequire } from 'node:module';
import { Logger } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import { NOOP_TRACING_BACKEND, createTracingBackend, otelSdkLoaded } from './tracing-backend.js';

/** CommonJS modules of the SDK that this process has loaded (ESM imports of them land here too). */
function loadedSdkModules(): string[] {
  return Object.keys(createRequire(import.meta.url).cache).filter((path) =>
    /@opentelemetry[\\/](sdk-trace|exporter-trace|resources|core)[-\\/]/.test(path),
  );
}

describe('createTracingBackend', () => {
  // In this order: once loaded, the SDK stays loaded for the rest of the file.
  it('without an exporter is the API no-op tracer, and loads no SDK module', async () => {
    const backend = await createTracingBackend({ exporters: [], otlpProtocol: 'http/protobuf' });
    expect(backend).toBe(NOOP_TRACING_BACKEND);
    expect(backend.tracer.startSpan('x').isRecording()).toBe(false);
    expect(otelSdkLoaded()).toBe(false);
    expect(loadedSdkModules()).toEqual([]);
  });

  it.each(['http/json', 'http/protobuf'] as const)('with otlp over %s loads the SDK and records spans', async (otlpProtocol) => {
    Logger.overrideLogger(false);
    const backend = await createTracingBackend({ exporters: ['otlp'], otlpProtocol });
    expect(otelSdkLoaded()).toBe(true);
    expect(loadedSdkModules().length).toBeGreaterThan(0);
    expect(backend.enabled).toBe(true);
    expect(backend.propagator?.fields()).toEqual(['traceparent', 'tracestate']);
    // Not ended, so never exported: nothing listens on the default endpoint here.
    expect(backend.tracer.startSpan('x').isRecording()).toBe(true);
    await backend.shutdown();
  });
});
