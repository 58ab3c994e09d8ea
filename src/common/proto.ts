import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as protoLoader from '@grpc/proto-loader';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { withResponseDeserializer } from '../adapters/grpc-js.adapter.js';
import { decodeDiscoveryResponse } from './discovery-response.codec.js';

const ADS_PROTO_FILE = 'envoy/service/discovery/v3/ads.proto';
export const ADS_METHOD = 'StreamAggregatedResources';

/**
 * Vendored .proto files live at the repository (or image) root. The nearest `proto/` above this
 * module is used, so the same code works from src/ (tests), dist/ (the proxy) and dist-tools/src/.
 */
export const PROTO_DIR = findProtoDir(dirname(fileURLToPath(import.meta.url)));

function findProtoDir(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'proto');
    if (existsSync(join(candidate, ADS_PROTO_FILE))) return candidate;
    if (dirname(dir) === dir) throw new Error(`vendored protos not found above ${from} (expected proto/${ADS_PROTO_FILE})`);
  }
}
export const ADS_PROTO = ADS_PROTO_FILE;
/**
 * The ADS service and exactly the messages it carries, as protobufjs JSON in proto/, generated from
 * the vendored .proto files by tools/proto/ads-descriptor.ts (its spec fails when it is stale).
 */
export const ADS_DESCRIPTOR_FILE = 'ads-descriptor.json';
export const CSDS_PROTO = 'envoy/service/status/v3/csds.proto';
export const CONFIG_DUMP_PROTO = 'envoy/admin/v3/config_dump.proto';
export const ADS_SERVICE = 'envoy.service.discovery.v3.AggregatedDiscoveryService';
/** The method's full name (`service/method`), as in grpc-js paths and OpenTelemetry's rpc.method. */
export const ADS_METHOD_FULL_NAME = `${ADS_SERVICE}/${ADS_METHOD}`;

/**
 * `json: true` is deliberately absent: it would expand `google.protobuf.Any` into JSON and the proxy
 * must pass istiod's payloads through as bytes. Longs as strings keep 64-bit values exact.
 */
export const PROTO_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTO_DIR],
};

let adsDefinition: protoLoader.PackageDefinition | undefined;

/**
 * The ADS package definition (grpc-js form), loaded once per process from the precompiled descriptor
 * rather than by parsing ads.proto: its import closure holds ~130 definitions (validate rules,
 * annotations, descriptor.proto) for the ~30 on the wire, and parsing and indexing them (here and in
 * reflection, which decodes every file descriptor once per definition) cost the idle proxy several
 * MiB of heap and start-up garbage. Field names in the JSON are already in proto case (keepCase).
 */
export function adsPackageDefinition(): protoLoader.PackageDefinition {
  adsDefinition ??= protoLoader.fromJSON(
    JSON.parse(readFileSync(join(PROTO_DIR, ADS_DESCRIPTOR_FILE), 'utf8')) as protobuf.INamespace,
    PROTO_LOADER_OPTIONS,
  );
  return adsDefinition;
}

export type AdsClientConstructor = grpc.ServiceClientConstructor;

/** The generated grpc-js client constructor for AggregatedDiscoveryService. */
export function adsClientConstructor(): AdsClientConstructor {
  const loaded = grpc.loadPackageDefinition(adsPackageDefinition());
  const ctor = ADS_SERVICE.split('.').reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], loaded);
  return ctor as AdsClientConstructor;
}

/**
 * The ADS client the proxy uses toward istiod: requests through the generic codec, responses
 * through the zero-copy DiscoveryResponse decoder (istiod answers can be tens of MB).
 */
export function upstreamAdsClientConstructor(): AdsClientConstructor {
  return withResponseDeserializer(adsClientConstructor().service, ADS_SERVICE, ADS_METHOD, decodeDiscoveryResponse);
}

/** The grpc-js service definition, for servers that register ADS by hand (simulated istiod). */
export function adsServiceDefinition(): grpc.ServiceDefinition {
  return adsClientConstructor().service;
}

let envoyRoot: protobuf.Root | undefined;

/** A protobufjs root holding the CSDS and admin config-dump messages (used to decode `Any` payloads). */
export function envoyTypes(): protobuf.Root {
  if (!envoyRoot) {
    const root = new protobuf.Root();
    root.resolvePath = (_origin, target) => {
      if (target.startsWith('google/protobuf/')) return target; // bundled with protobufjs
      return `${PROTO_DIR}/${target}`;
    };
    root.loadSync([ADS_PROTO, CSDS_PROTO, CONFIG_DUMP_PROTO], { keepCase: true });
    root.resolveAll();
    envoyRoot = root;
  }
  return envoyRoot;
}

/** Decoding options matching PROTO_LOADER_OPTIONS, for protobufjs `toObject`. */
export const TO_OBJECT_OPTIONS: protobuf.IConversionOptions = {
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
};

export function typeUrlOf(fullName: string): string {
  return `type.googleapis.com/${fullName}`;
}
