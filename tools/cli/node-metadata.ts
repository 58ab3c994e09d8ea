import type { ProtoStruct, ProtoValue } from '../../src/common/xds-types.js';

/** The few `model.NodeMetadata` fields istioctl's writers read from a proxy's node. */
export interface ProxyNodeMetadata {
  clusterId: string;
  namespace: string;
  istioVersion: string;
  hasProxyConfig: boolean;
}

const STRING_FIELDS = { CLUSTER_ID: 'clusterId', NAMESPACE: 'namespace', ISTIO_VERSION: 'istioVersion' } as const;

/**
 * istio's `model.ParseMetadata` round-trips the Struct through JSON into typed fields, so a
 * non-string where Go expects a string fails the whole parse; that error is mirrored here.
 */
export function parseNodeMetadata(metadata: ProtoStruct | null | undefined): ProxyNodeMetadata {
  const parsed: ProxyNodeMetadata = { clusterId: '', namespace: '', istioVersion: '', hasProxyConfig: false };
  const fields = metadata?.fields ?? {};
  for (const [key, property] of Object.entries(STRING_FIELDS)) {
    const value = fields[key];
    if (!value || valueKind(value) === 'nullValue') continue;
    if (valueKind(value) !== 'stringValue') {
      throw new Error(`json: cannot unmarshal ${goJsonKind(value)} into Go struct field NodeMetadata.${key} of type string`);
    }
    parsed[property] = value.stringValue ?? '';
  }
  const proxyConfig = fields.PROXY_CONFIG;
  parsed.hasProxyConfig = proxyConfig !== undefined && valueKind(proxyConfig) !== 'nullValue';
  return parsed;
}

function valueKind(value: ProtoValue): string | undefined {
  if (value.kind) return value.kind;
  if (value.stringValue !== undefined && value.stringValue !== null) return 'stringValue';
  return undefined;
}

function goJsonKind(value: ProtoValue): string {
  switch (valueKind(value)) {
    case 'numberValue':
      return 'number';
    case 'boolValue':
      return 'bool';
    case 'structValue':
      return 'object';
    case 'listValue':
      return 'array';
    default:
      return 'value';
  }
}
