import { envoyTypes, typeUrlOf } from '../../src/common/proto.js';
import { DiscoveryRequest, DiscoveryResponse, ProtoAny, stringStruct } from '../../src/common/xds-types.js';
import { IstiodInstance } from '../../src/modules/discovery/istiod-instance.js';
import { InstanceAnswer } from '../../src/modules/aggregation/fanout-result.js';

/** Builders for unit specs: real protobuf bytes, no mocks of the wire format. */
export function instance(name: string, port = 15012): IstiodInstance {
  return { name, address: '127.0.0.1', port, revision: 'default' };
}

export function request(typeUrl: string, resourceNames: string[] = []): DiscoveryRequest {
  return {
    version_info: '',
    node: { id: 'sidecar~10.0.0.1~test-1.default~default.svc.cluster.local', metadata: stringStruct({ GENERATOR: 'event' }) },
    resource_names: resourceNames,
    type_url: typeUrl,
    response_nonce: '2026-08-22 15:00:18.1234 +0000 UTC m=+0.41',
  };
}

export function clientConfigAny(nodeId: string, lastUpdated?: Date, version = '1.27.3'): ProtoAny {
  const ClientConfig = envoyTypes().lookupType('envoy.service.status.v3.ClientConfig');
  const message = ClientConfig.fromObject({
    node: { id: nodeId, metadata: { fields: { ISTIO_VERSION: { stringValue: version } } } },
    generic_xds_configs: [
      {
        type_url: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
        config_status: 'SYNCED',
        ...(lastUpdated
          ? { last_updated: { seconds: Math.floor(lastUpdated.getTime() / 1000), nanos: (lastUpdated.getTime() % 1000) * 1e6 } }
          : {}),
      },
    ],
  });
  return { type_url: typeUrlOf('envoy.service.status.v3.ClientConfig'), value: Buffer.from(ClientConfig.encode(message).finish()) };
}

export function response(
  typeUrl: string,
  resources: ProtoAny[],
  identifier?: object,
  versionInfo = '2026-08-22T15:00:18Z/7',
): DiscoveryResponse {
  return {
    version_info: versionInfo,
    resources,
    type_url: typeUrl,
    nonce: `${versionInfo}-nonce`,
    control_plane: identifier ? { identifier: JSON.stringify(identifier) } : null,
  };
}

export function answer(name: string, res: DiscoveryResponse, arrival = 0): InstanceAnswer {
  return { instance: instance(name), response: res, arrival, latencyMs: 1 };
}

export function debugAny(body: string): ProtoAny {
  return { type_url: 'istio.io/debug', value: Buffer.from(body) };
}

export function identifier(id: string, version: string): object {
  return {
    Component: 'istiod',
    ID: id,
    Info: { version, revision: `rev-${version}`, golang_version: 'go1.24.6', status: 'Clean', tag: version },
  };
}
