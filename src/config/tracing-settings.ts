import { ConfigError } from './config.error.js';
import { EnvReader } from './env-parsers.js';

export type TraceExporterName = 'otlp' | 'console';
export type OtlpProtocol = 'http/protobuf' | 'http/json';

/**
 * Which span exporters to start: the only OTEL_* facts the proxy decides on itself. Everything else
 * (endpoint, headers, timeouts, sampler, batch delays, service name, resource attributes) is read
 * from the environment by the OpenTelemetry SDK when it starts.
 */
export interface TracingSettings {
  /** Empty: tracing is off and the SDK is never loaded. */
  exporters: TraceExporterName[];
  /** OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL, else http/protobuf. */
  otlpProtocol: OtlpProtocol;
}

const EXPORTERS: readonly string[] = ['otlp', 'console', 'none'];
const PROTOCOLS: readonly string[] = ['http/protobuf', 'http/json'];

/**
 * Off unless asked for: unlike the OpenTelemetry default (OTEL_TRACES_EXPORTER=otlp), tracing starts
 * only when OTEL_TRACES_EXPORTER names an exporter or an OTLP endpoint is set, so a proxy without
 * a collector never loads the SDK nor tries to send spans to localhost:4318.
 */
export function readTracingSettings(read: EnvReader): TracingSettings {
  const protocolVariable = read.optionalString('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL')
    ? 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL'
    : 'OTEL_EXPORTER_OTLP_PROTOCOL';
  const protocol = read.string(protocolVariable, 'http/protobuf').toLowerCase();
  if (!PROTOCOLS.includes(protocol)) {
    const hint = protocol === 'grpc' ? ' (OTLP over gRPC is not bundled: use http/protobuf, a collector listens on 4318)' : '';
    throw new ConfigError(protocolVariable, `=${protocol} is not one of: ${PROTOCOLS.join(', ')}${hint}`);
  }
  const named = read.list('OTEL_TRACES_EXPORTER').map((name) => name.toLowerCase());
  for (const name of named) {
    if (!EXPORTERS.includes(name)) throw new ConfigError('OTEL_TRACES_EXPORTER', `=${name} is not one of: ${EXPORTERS.join(', ')}`);
  }
  const endpointSet = !!(read.optionalString('OTEL_EXPORTER_OTLP_ENDPOINT') || read.optionalString('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'));
  let exporters: TraceExporterName[];
  if (read.boolean('OTEL_SDK_DISABLED', false) || named.includes('none')) exporters = [];
  else if (named.length > 0) exporters = [...new Set(named as TraceExporterName[])];
  else exporters = endpointSet ? ['otlp'] : [];
  return { exporters, otlpProtocol: protocol as OtlpProtocol };
}
