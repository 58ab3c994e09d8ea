import { status } from '@grpc/grpc-js';
import { RpcException } from '@nestjs/microservices';
import type { Attributes } from '@opentelemetry/api';
import { ADS_METHOD_FULL_NAME } from '../../common/proto.js';

/**
 * The OpenTelemetry semantic-convention attributes the proxy sets, by their registered names
 * (https://opentelemetry.io/docs/specs/semconv/registry/attributes/: error, rpc, server). The same
 * strings as ATTR_* of @opentelemetry/semantic-conventions, spelled out so that its index of every
 * convention is not loaded at run time for six names; span-attributes.spec.ts pins them to it.
 */
export const SEMCONV = {
  errorType: 'error.type',
  rpcMethod: 'rpc.method',
  rpcStatusCode: 'rpc.status_code',
  rpcSystemName: 'rpc.system.name',
  serverAddress: 'server.address',
  serverPort: 'server.port',
} as const;

/**
 * The proxy's own span attributes (the semantic conventions have none for xDS). Values are bounded:
 * a caller chooses type URLs and resource names, and a span must never grow with what it sends.
 * What never goes in: tokens, metadata values, Any payloads.
 */
export const ATTR = {
  typeUrl: 'istioctl_proxy.xds.type_url',
  resourceNames: 'istioctl_proxy.xds.resource_names',
  resourceNameCount: 'istioctl_proxy.xds.resource_names.count',
  callerSubject: 'istioctl_proxy.caller.subject',
  callerCluster: 'istioctl_proxy.caller.cluster',
  coalesced: 'istioctl_proxy.coalesced',
  outcome: 'istioctl_proxy.outcome',
  asked: 'istioctl_proxy.istiods.asked',
  answered: 'istioctl_proxy.istiods.answered',
  failed: 'istioctl_proxy.istiods.failed',
  skipped: 'istioctl_proxy.istiods.skipped',
  missing: 'istioctl_proxy.istiods.missing',
  instance: 'istioctl_proxy.istiod.instance',
  revision: 'istioctl_proxy.istiod.revision',
  latencyMs: 'istioctl_proxy.istiod.latency_ms',
  responseBytes: 'istioctl_proxy.istiod.response_bytes',
  resources: 'istioctl_proxy.istiod.resources',
  verifier: 'istioctl_proxy.auth.verifier',
  cached: 'istioctl_proxy.auth.cached',
} as const;

/** Longest string value we record, and most list entries (resource names, missing istiods). */
export const MAX_ATTRIBUTE_CHARS = 256;
export const MAX_LISTED = 16;

export const ADS_METHOD = ADS_METHOD_FULL_NAME;
export const GRPC_CALL: Attributes = { [SEMCONV.rpcSystemName]: 'grpc', [SEMCONV.rpcMethod]: ADS_METHOD };

export function bounded(value: string, max = MAX_ATTRIBUTE_CHARS): string {
  return value.length <= max ? value : `${value.slice(0, max)}…`;
}

export function boundedList(values: readonly string[]): string[] {
  return values.slice(0, MAX_LISTED).map((value) => bounded(value));
}

/** `istio.io/debug/syncz` -> `syncz`: the span name's type part, from an already bounded label. */
export function shortType(label: string): string {
  return bounded(label.slice(label.lastIndexOf('/') + 1) || label, 64);
}

/** The gRPC status an error ends the call with: RpcException's, grpc-js's `code`, else UNKNOWN. */
export function grpcCodeOf(err: unknown): status {
  const source: unknown = err instanceof RpcException ? err.getError() : err;
  const code = (source as { code?: unknown } | null)?.code;
  return typeof code === 'number' && status[code] !== undefined ? code : status.UNKNOWN;
}

export function grpcMessageOf(err: unknown): string {
  const source: unknown = err instanceof RpcException ? err.getError() : err;
  if (typeof source === 'string') return bounded(source);
  const { details, message } = (source ?? {}) as { details?: unknown; message?: unknown };
  const text = [details, message].find((value): value is string => typeof value === 'string' && value !== '');
  return bounded(text ?? 'error');
}

/** rpc.status_code (its standard names, `DEADLINE_EXCEEDED`) and, when not OK, error.type. */
export function statusAttributes(code: status, errorType?: string): Attributes {
  const name = status[code] ?? 'UNKNOWN';
  return code === status.OK ? { [SEMCONV.rpcStatusCode]: name } : { [SEMCONV.rpcStatusCode]: name, [SEMCONV.errorType]: errorType ?? name };
}
