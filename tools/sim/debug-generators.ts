import { status } from '@grpc/grpc-js';
import type { DiscoveryRequest, ProtoAny } from '../../src/common/xds-types.js';
import { clientConfigAny, configDumpAnys } from './client-config.encoder.js';
import type { MeshView, SimulatedConnection } from './debug-documents.js';
import { NAMESPACE_SCOPED_DEBUG_PATHS, debugBody, debugPathOf, debugRunMs, profileBody } from './debug-endpoints.js';
import type { SimulatorKnobs } from './simulator-knobs.js';
import type { CallerIdentity } from './xds-node.js';
import { ISTIOD_MESSAGES, XdsStatusError, spiffeId } from './xds-status.js';

export const SYNCZ_TYPE_URL = 'istio.io/debug/syncz';
export const CONFIG_DUMP_TYPE_URL = 'istio.io/debug/config_dump';
export const DEBUG_TYPE_URL = 'istio.io/debug';

export interface GeneratorContext {
  view: MeshView;
  knobs: SimulatorKnobs;
  debugBodies: Record<string, string>;
  /** Undefined when the simulator does not verify tokens. */
  caller: CallerIdentity | undefined;
}

/** The caller's identity if it is verified and outside istiod's namespace (the limited debug rights). */
function restrictedCaller({ caller, view }: GeneratorContext): CallerIdentity | undefined {
  return caller && caller.namespace !== view.istiodNamespace ? caller : undefined;
}

/** The connections this caller may see (sg `callerNamespaceFilter`, when switched on). */
function visibleConnections(context: GeneratorContext): SimulatedConnection[] {
  const restricted = restrictedCaller(context);
  if (!context.knobs.namespaceFilter || !restricted) return context.view.connections;
  return context.view.connections.filter(({ proxy }) => proxy.namespace === restricted.namespace);
}

function requireIdentity(context: GeneratorContext): void {
  if (context.knobs.requireIdentity && !context.caller) {
    throw new XdsStatusError(status.UNAUTHENTICATED, ISTIOD_MESSAGES.authenticationRequired);
  }
}

function padding(bytes: number, fill: string): string {
  return bytes > 0 ? fill.repeat(bytes) : '';
}

function syncz(context: GeneratorContext): ProtoAny[] {
  const connections = visibleConnections(context);
  const { now } = context.view;
  const options = { now, legacy: context.knobs.legacySyncz, reverseMetadata: context.knobs.reverseMetadataOrder };
  const resources = connections.map(({ proxy }, index) =>
    clientConfigAny(proxy, { ...options, padding: index === 0 ? padding(context.knobs.paddingBytes, 'x') : undefined }),
  );
  if (resources.length === 0 && context.knobs.paddingBytes > 0) {
    const placeholder = {
      id: `sim-padding.${context.view.istiodNamespace}`,
      namespace: context.view.istiodNamespace,
      istioVersion: context.view.version,
    };
    resources.push(clientConfigAny(placeholder, { ...options, padding: padding(context.knobs.paddingBytes, 'x') }));
  }
  return resources;
}

function configDump(request: DiscoveryRequest, context: GeneratorContext): ProtoAny[] {
  if (request.resource_names.length !== 1) return [];
  const [name] = request.resource_names;
  const found = visibleConnections(context).find(({ connectionId }) => connectionId.includes(name));
  if (!found) return [];
  return configDumpAnys(found.proxy, context.view.now, padding(context.knobs.paddingBytes, 'x'));
}

function debug(request: DiscoveryRequest, context: GeneratorContext): ProtoAny[] {
  if (request.resource_names.length !== 1) {
    throw new XdsStatusError(status.INVALID_ARGUMENT, ISTIOD_MESSAGES.oneDebugRequest);
  }
  const [resourceName] = request.resource_names;
  const restricted = restrictedCaller(context);
  if (restricted && !NAMESPACE_SCOPED_DEBUG_PATHS.has(debugPathOf(resourceName))) {
    throw new XdsStatusError(
      status.PERMISSION_DENIED,
      `the debug info is not available for current identity: ${JSON.stringify(spiffeId(restricted.namespace, restricted.serviceAccount))}`,
    );
  }
  const view = { ...context.view, connections: visibleConnections(context), clusterSync: context.knobs.clusterSync };
  const profile = profileBody(resourceName, view);
  if (profile) return [{ type_url: DEBUG_TYPE_URL, value: profile }];
  // Trailing whitespace keeps JSON bodies parseable while making them as large as a test needs.
  const body = debugBody(resourceName, view, context.debugBodies) + padding(context.knobs.paddingBytes, ' ');
  return [{ type_url: DEBUG_TYPE_URL, value: Buffer.from(body, 'utf8') }];
}

/** The resources one istiod replica answers to a request from an `event` generator client (sg, dg). */
export function generateResources(request: DiscoveryRequest, context: GeneratorContext): ProtoAny[] {
  switch (request.type_url) {
    case SYNCZ_TYPE_URL:
      requireIdentity(context);
      return syncz(context);
    case CONFIG_DUMP_TYPE_URL:
      requireIdentity(context);
      return configDump(request, context);
    case DEBUG_TYPE_URL:
      requireIdentity(context);
      return debug(request, context);
    default:
      return [];
  }
}

/** How long istiod works on a request before answering: a pprof CPU profile or trace runs for its `seconds`. */
export function answerDelayMs(request: DiscoveryRequest): number {
  if (request.type_url !== DEBUG_TYPE_URL || request.resource_names.length !== 1) return 0;
  return debugRunMs(request.resource_names[0]);
}
