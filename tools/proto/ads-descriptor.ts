import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { ADS_DESCRIPTOR_FILE, ADS_PROTO, ADS_SERVICE, PROTO_DIR } from '../../src/common/proto.js';

/**
 * `proto/ads-descriptor.json`, the protobufjs JSON the proxy loads its ADS service from
 * (`adsPackageDefinition` in src/common/proto.ts), is derived from the vendored .proto files:
 * AggregatedDiscoveryService and exactly the messages and enums its methods can carry, nothing
 * else. Parsing ads.proto at start-up instead pulled in its whole import closure (validate rules,
 * annotations, descriptor.proto: 131 definitions for the ~30 on the wire), which cost the idle
 * proxy several MiB of heap and garbage, and made reflection's start-up indexing dear.
 *
 * Regenerate after changing proto/ (the spec beside this file fails until you do):
 *   npm run build:tools && node dist-tools/tools/proto/ads-descriptor.js
 */

/** The vendored ads.proto and its imports, parsed as @grpc/proto-loader parses them (keepCase). */
export function loadFullAdsRoot(): protobuf.Root {
  const root = new protobuf.Root();
  // google/protobuf/*.proto are not vendored: protobufjs bundles them (proto-loader registers descriptor.proto).
  root.resolvePath = (_origin, target) => (target.startsWith('google/protobuf/') ? target : join(PROTO_DIR, target));
  root.loadSync(ADS_PROTO, { keepCase: true });
  root.resolveAll();
  return root;
}

/** Every message and enum AggregatedDiscoveryService's methods can carry, with the service itself. */
export function reachableFromAds(root: protobuf.Root): Set<protobuf.ReflectionObject> {
  const service = root.lookupService(ADS_SERVICE);
  const kept = new Set<protobuf.ReflectionObject>([service]);
  const visit = (object: protobuf.ReflectionObject | null) => {
    if (!object || kept.has(object)) return;
    kept.add(object);
    // A nested type's JSON lives inside its parent message, which then has to be complete itself.
    if (object.parent instanceof protobuf.Type) visit(object.parent);
    if (object instanceof protobuf.Type) for (const field of object.fieldsArray) visit(field.resolve().resolvedType);
  };
  for (const method of service.methodsArray) {
    method.resolve();
    visit(method.resolvedRequestType);
    visit(method.resolvedResponseType);
  }
  return kept;
}

type JsonNamespace = { options?: Record<string, unknown>; nested?: Record<string, unknown> };

/** The protobufjs JSON of `root` restricted to `kept`: packages as nesting, each kept object as protobufjs writes it. */
function restrictedJson(namespace: protobuf.NamespaceBase, kept: Set<protobuf.ReflectionObject>): Record<string, unknown> | undefined {
  const nested: Record<string, unknown> = {};
  for (const child of namespace.nestedArray) {
    if (child instanceof protobuf.Type) {
      if (!kept.has(child)) continue;
      const own = child.toJSON() as JsonNamespace;
      delete own.nested;
      const keptNested = restrictedJson(child, kept);
      nested[child.name] = keptNested ? { ...own, nested: keptNested } : own;
    } else if (child instanceof protobuf.Enum || child instanceof protobuf.Service) {
      if (kept.has(child)) nested[child.name] = child.toJSON();
    } else if (child instanceof protobuf.Namespace) {
      const keptNested = restrictedJson(child, kept);
      if (keptNested) nested[child.name] = child.options ? { options: child.options, nested: keptNested } : { nested: keptNested };
    }
    // Extensions (custom options such as validate rules) are not part of any message on the wire.
  }
  return Object.keys(nested).length > 0 ? nested : undefined;
}

/** The text of proto/ads-descriptor.json as it should be for the vendored protos. */
export function buildAdsDescriptor(): string {
  const root = loadFullAdsRoot();
  return `${JSON.stringify({ nested: restrictedJson(root, reachableFromAds(root)) }, null, 1)}\n`;
}

export const ADS_DESCRIPTOR_PATH = join(PROTO_DIR, ADS_DESCRIPTOR_FILE);

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const text = buildAdsDescriptor();
  const current = existsSync(ADS_DESCRIPTOR_PATH) ? readFileSync(ADS_DESCRIPTOR_PATH, 'utf8') : '';
  if (current === text) {
    console.log(`${ADS_DESCRIPTOR_PATH} is up to date`);
  } else {
    writeFileSync(ADS_DESCRIPTOR_PATH, text);
    console.log(`wrote ${ADS_DESCRIPTOR_PATH} (${text.length} bytes)`);
  }
}
