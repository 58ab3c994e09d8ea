import { describe, expect, it } from 'vitest';
import { loadConfig } from './load-config.js';

const base = { PLAINTEXT: 'true', DISCOVERY: 'static', ISTIOD_ADDRESSES: 'istiod-a=10.0.0.1:15012', UPSTREAM_INSECURE: 'true' };
const tracing = (env: Record<string, string>) => loadConfig({ ...base, ...env }).tracing;

describe('tracing settings (OTEL_*)', () => {
  it('is off by default: no exporter without OTEL_TRACES_EXPORTER or an OTLP endpoint', () => {
    expect(tracing({})).toEqual({ exporters: [], otlpProtocol: 'http/protobuf' });
  });

  it.each([
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, ['otlp']],
    [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' }, ['otlp']],
    [{ OTEL_TRACES_EXPORTER: 'otlp' }, ['otlp']],
    [{ OTEL_TRACES_EXPORTER: 'console,otlp,otlp' }, ['console', 'otlp']],
    [{ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, []],
    [{ OTEL_SDK_DISABLED: 'true', OTEL_TRACES_EXPORTER: 'otlp' }, []],
  ])('%j starts %j', (env, exporters) => {
    expect(tracing(env).exporters).toEqual(exporters);
  });

  it('takes the traces protocol over the general one', () => {
    expect(tracing({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }).otlpProtocol).toBe('http/json');
    expect(tracing({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf' }).otlpProtocol).toBe(
      'http/protobuf',
    );
  });

  it.each([
    [{ OTEL_TRACES_EXPORTER: 'zipkin' }, 'Invalid environment: OTEL_TRACES_EXPORTER=zipkin is not one of: otlp, console, none'],
    [{ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, 'OTEL_EXPORTER_OTLP_PROTOCOL=grpc is not one of: http/protobuf, http/json (OTLP over gRPC'],
    [{ OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'thrift' }, 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=thrift is not one of'],
    [{ OTEL_SDK_DISABLED: 'maybe' }, 'OTEL_SDK_DISABLED=maybe is not a boolean'],
  ])('%j fails startup naming the variable', (env, message) => {
    expect(() => tracing(env)).toThrow(message);
  });
});
