import { readFileSync } from 'node:fs';
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';
import descriptor from 'protobufjs/ext/descriptor/index.js';
import { describe, expect, it } from 'vitest';
import { ADS_PROTO, ADS_SERVICE, PROTO_LOADER_OPTIONS, adsPackageDefinition } from '../../src/common/proto.js';
import { ADS_DESCRIPTOR_PATH, buildAdsDescriptor, loadFullAdsRoot, reachableFromAds } from './ads-descriptor.js';

type MethodDefinition = protoLoader.MethodDefinition<object, object>;
type Methods = Record<string, MethodDefinition>;

// The proxy serves and calls ADS from proto/ads-descriptor.json. These tests hold it to what parsing
// the vendored ads.proto with @grpc/proto-loader (as the proxy did before) gives for every message on
// the wire: same descriptors, same bytes, same decoded objects.
const served = adsPackageDefinition();
const parsed = protoLoader.loadSync(ADS_PROTO, PROTO_LOADER_OPTIONS);

const methodsOf = (definition: protoLoader.PackageDefinition) => definition[ADS_SERVICE] as unknown as Methods;

const node = {
  id: 'sidecar~10.0.0.1~productpage-v1-abc.default~default.svc.cluster.local',
  cluster: 'productpage.default',
  metadata: {
    fields: {
      CLUSTER_ID: { string_value: 'Kubernetes' },
      COUNT: { number_value: 1.5 },
      ENABLED: { bool_value: true },
      LIST: { list_value: { values: [{ string_value: 'a' }, { null_value: 'NULL_VALUE' }] } },
      NESTED: { struct_value: { fields: { key: { string_value: 'value' } } } },
    },
  },
  dynamic_parameters: { shard: { params: { zone: 'a' } } },
  locality: { region: 'eu', zone: 'eu-1', sub_zone: 'rack-2' },
  user_agent_name: 'istioctl',
  user_agent_build_version: { version: { major_number: 1, minor_number: 25, patch: 3 }, metadata: { fields: {} } },
  extensions: [{ name: 'ext', category: 'filters', type_descriptor: 'td', version: { version: { major_number: 2 } }, disabled: true, type_urls: ['t'] }],
  client_features: ['envoy.lb.does_not_support_overprovisioning'],
  listening_addresses: [
    { socket_address: { protocol: 'UDP', address: '10.0.0.1', port_value: 15001, resolver_name: 'r', ipv4_compat: true } },
    { socket_address: { address: '::1', named_port: 'http' } },
    { pipe: { path: '/var/run/envoy.sock', mode: 420 } },
    { envoy_internal_address: { server_listener_name: 'internal', endpoint_id: 'e1' } },
  ],
};
const status = { code: 3, message: 'bad request', details: [{ type_url: 'type.googleapis.com/google.rpc.BadRequest', value: Buffer.from([8, 1]) }] };
const any = (n: number) => ({ type_url: 'type.googleapis.com/envoy.service.status.v3.ClientConfig', value: Buffer.from([10, 3, 97, 98, n]) });
const resourceName = {
  name: 'r',
  dynamic_parameter_constraints: {
    or_constraints: {
      constraints: [
        { constraint: { key: 'k', value: 'v' } },
        { constraint: { key: 'k2', exists: {} } },
        { not_constraints: { and_constraints: { constraints: [{ constraint: { key: 'x', value: 'y' } }] } } },
      ],
    },
  },
};

/** One rich message per request and response type of the service. */
const samples: Record<string, { method: string; side: 'request' | 'response'; value: object }> = {
  DiscoveryRequest: {
    method: 'StreamAggregatedResources',
    side: 'request',
    value: {
      version_info: 'v1',
      node,
      resource_names: ['a', 'b'],
      resource_locators: [{ name: 'xdstp://a', dynamic_parameters: { k: 'v' } }],
      type_url: 'istio.io/debug/syncz',
      response_nonce: 'n1',
      error_detail: status,
    },
  },
  DiscoveryResponse: {
    method: 'StreamAggregatedResources',
    side: 'response',
    value: {
      version_info: '2025-01-01T00:00:00Z/1',
      resources: [any(1), any(2)],
      canary: true,
      type_url: 'istio.io/debug/syncz',
      nonce: 'n2',
      control_plane: { identifier: '{"Component":"istiod","ID":"istiod-0"}' },
    },
  },
  DeltaDiscoveryRequest: {
    method: 'DeltaAggregatedResources',
    side: 'request',
    value: {
      node,
      type_url: 't',
      resource_names_subscribe: ['a'],
      resource_names_unsubscribe: ['b'],
      resource_locators_subscribe: [{ name: 'l' }],
      resource_locators_unsubscribe: [{ name: 'm', dynamic_parameters: { a: 'b' } }],
      initial_resource_versions: { a: '1' },
      response_nonce: 'n',
      error_detail: status,
    },
  },
  DeltaDiscoveryResponse: {
    method: 'DeltaAggregatedResources',
    side: 'response',
    value: {
      system_version_info: 's',
      resources: [
        {
          name: 'r',
          resource_name: resourceName,
          aliases: ['x'],
          version: '1',
          resource: any(3),
          ttl: { seconds: '30', nanos: 5 },
          cache_control: { do_not_cache: true },
          metadata: { filter_metadata: { f: { fields: { a: { string_value: 'b' } } } }, typed_filter_metadata: { t: any(4) } },
        },
      ],
      type_url: 't',
      removed_resources: ['gone'],
      removed_resource_names: [resourceName],
      nonce: 'n',
      control_plane: { identifier: 'cp' },
    },
  },
};

describe('proto/ads-descriptor.json', () => {
  it('is what tools/proto/ads-descriptor.ts generates from the vendored protos (regenerate it after changing proto/)', () => {
    expect(readFileSync(ADS_DESCRIPTOR_PATH, 'utf8')).toBe(buildAdsDescriptor());
  });

  it('defines the ADS service and exactly the messages and enums its methods can carry', () => {
    // proto-loader lists top-level definitions; nested ones live inside their message's descriptor.
    const reachable = [...reachableFromAds(loadFullAdsRoot())]
      .filter((object) => !(object.parent instanceof protobuf.Type))
      .map((object) => object.fullName.slice(1));
    expect(Object.keys(served).sort()).toEqual(reachable.sort());
    expect(Object.keys(served)).toEqual(expect.arrayContaining([ADS_SERVICE, 'envoy.config.core.v3.Node', 'google.protobuf.Any']));
  });

  it('describes every definition as parsing ads.proto does', () => {
    for (const [name, definition] of Object.entries(served)) {
      if (name === ADS_SERVICE) continue;
      expect({ name, type: (definition as protoLoader.MessageTypeDefinition<object, object>).type }).toEqual({
        name,
        type: (parsed[name] as protoLoader.MessageTypeDefinition<object, object>).type,
      });
    }
  });

  it('serves the same methods: paths, streaming, names, message descriptors', () => {
    const shape = (methods: Methods) =>
      Object.fromEntries(
        Object.entries(methods).map(([name, m]) => [
          name,
          {
            path: m.path,
            requestStream: m.requestStream,
            responseStream: m.responseStream,
            originalName: m.originalName,
            options: m.options,
            requestType: m.requestType.type,
            responseType: m.responseType.type,
          },
        ]),
      );
    expect(shape(methodsOf(served))).toEqual(shape(methodsOf(parsed)));
  });

  it.each(Object.keys(samples))('%s: the same bytes and the same decoded object as the parsed protos', (message) => {
    const { method, side, value } = samples[message];
    const [ours, theirs] = [methodsOf(served)[method], methodsOf(parsed)[method]];
    const serialize = (m: MethodDefinition) => (side === 'request' ? m.requestSerialize : m.responseSerialize);
    const deserialize = (m: MethodDefinition) => (side === 'request' ? m.requestDeserialize : m.responseDeserialize);
    const bytes = serialize(ours)(value);
    expect(bytes.length).toBeGreaterThan(50);
    expect(Buffer.from(bytes).equals(Buffer.from(serialize(theirs)(value)))).toBe(true);
    expect(deserialize(ours)(bytes)).toEqual(deserialize(theirs)(bytes));
  });

  it('reflection files hold the same messages, enums and services as before, minus what ADS never carries', () => {
    const files = (definition: protoLoader.PackageDefinition) =>
      new Map(
        (definition[ADS_SERVICE] as unknown as Methods).StreamAggregatedResources.requestType.fileDescriptorProtos.map((bytes) => {
          const file = descriptor.FileDescriptorProto.toObject(descriptor.FileDescriptorProto.decode(bytes)) as {
            name: string;
            messageType?: Array<{ name: string }>;
            enumType?: Array<{ name: string }>;
            service?: Array<{ name: string }>;
            options?: object;
          };
          return [file.name, file];
        }),
      );
    const before = files(parsed);
    const after = files(served);
    expect([...after.keys()].every((name) => before.has(name))).toBe(true);
    for (const [name, file] of after) {
      const old = before.get(name)!;
      expect(file.options).toEqual(old.options);
      for (const kind of ['messageType', 'enumType', 'service'] as const) {
        for (const entry of file[kind] ?? []) expect(old[kind]?.find((o) => o.name === entry.name)).toEqual(entry);
      }
    }
  });
});
