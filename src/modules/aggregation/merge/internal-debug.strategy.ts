import { Inject, Optional } from '@nestjs/common';
import { DiscoveryRequest, DiscoveryResponse, ProtoAny } from '../../../common/xds-types.js';
import { IstiodInstance } from '../../discovery/istiod-instance.js';
import { InstanceAnswer } from '../fanout-result.js';
import { InstanceHealth } from '../instance-health.js';
import { Json, tryParse, unionDebugBodies } from './debug-json-union.js';
import { DebugPath, parseDebugPath, profileRunMs } from './debug-path.js';
import { MergeContext, MergeStrategy, TimeoutLimits, emptyResponse } from './merge-strategy.js';
import { answerProxyPath, listWithProxyPaths, proxyPathUpstreamRequest } from './proxy-paths.js';

const DEBUG_TYPE_URL = 'istio.io/debug';
const NOT_CONNECTED_PREFIX = 'Proxy not connected';
/** Beyond a profile's own run time: istiod writes the profile, and it travels back through the proxy. */
export const PROFILE_MARGIN_MS = 5_000;

/**
 * `istioctl x internal-debug <path>`: istiod answers one Any whose value is the raw HTTP body of
 * /debug/<path>. How replicas combine depends on the path (see debug-path.ts). Profiles
 * (`pprof/*`) are asked of the first replica only, with a deadline that covers their run time.
 * The proxy's own paths (`istioctl-proxy/locate`, `istioctl-proxy/replicas`) ask every replica's
 * syncz instead and are answered by the proxy (proxy-paths.ts).
 */
@MergeStrategy(DEBUG_TYPE_URL)
export class InternalDebugStrategy implements MergeStrategy {
  readonly name = 'internal-debug';

  /** Optional so specs can build the strategy bare; `istioctl-proxy/replicas` then omits the last outcomes. */
  constructor(@Optional() @Inject(InstanceHealth) private readonly health?: InstanceHealth) {}

  upstreamRequest(request: DiscoveryRequest): DiscoveryRequest {
    return debugPathOf(request).pathClass === 'istioctl-proxy' ? proxyPathUpstreamRequest(request) : request;
  }

  selectInstances(request: DiscoveryRequest, instances: readonly IstiodInstance[]): readonly IstiodInstance[] {
    return debugPathOf(request).pathClass === 'profile' ? instances.slice(0, 1) : instances;
  }

  timeoutMs(request: DiscoveryRequest, limits: TimeoutLimits): number | undefined {
    const debugPath = debugPathOf(request);
    if (debugPath.pathClass !== 'profile') return undefined;
    return Math.max(limits.defaultMs, profileRunMs(debugPath) + PROFILE_MARGIN_MS);
  }

  merge(request: DiscoveryRequest, answers: InstanceAnswer[], context: MergeContext): DiscoveryResponse {
    const response = emptyResponse(request, answers[0]?.response.version_info ?? '');
    const debugPath = debugPathOf(request);
    if (debugPath.pathClass === 'profile') {
      // A profile is binary (gzipped protobuf): passed through byte for byte, never re-encoded.
      response.resources = answers.find((answer) => answer.response.resources.length > 0)?.response.resources ?? [];
      return response;
    }
    if (debugPath.pathClass === 'istioctl-proxy') {
      const health = this.health ? (replica: string) => this.health?.get(replica) ?? {} : undefined;
      const body = answerProxyPath({ debugPath, answers, failed: context.failed ?? [], health });
      response.resources = [{ type_url: DEBUG_TYPE_URL, value: Buffer.from(body, 'utf8') }];
      return response;
    }
    const bodies = answers.flatMap((answer) => answer.response.resources.map(bodyOf));
    if (bodies.length === 0) return response;
    const body = this.mergeBodies(debugPath, bodies, answers, context);
    const typeUrl = answers.find((a) => a.response.resources.length > 0)?.response.resources[0].type_url ?? DEBUG_TYPE_URL;
    response.resources = [{ type_url: typeUrl, value: Buffer.from(body, 'utf8') }];
    return response;
  }

  private mergeBodies(debugPath: DebugPath, bodies: string[], answers: InstanceAnswer[], context: MergeContext): string {
    switch (debugPath.pathClass) {
      case 'union': {
        const merged = unionDebugBodies(debugPath.path, bodies, (message) => context.log(message));
        return merged === undefined ? bodies[0] : render(merged, debugPath.pretty);
      }
      case 'proxy-scoped':
        return bodies.find((body) => !body.startsWith(NOT_CONNECTED_PREFIX)) ?? bodies[0];
      case 'action':
        return answers.map((answer) => `${answer.instance.name}: ${answer.response.resources.map(bodyOf).join('')}`).join('\n');
      case 'replica-local':
        return render(labelledByReplica(answers), debugPath.pretty);
      case 'mesh-wide':
        return debugPath.path === 'list' ? listWithProxyPaths(bodies[0], debugPath.pretty) : bodies[0];
      default:
        return bodies[0];
    }
  }
}

/** `{"<replica pod name>": <its body as JSON, or the raw text when it is not JSON>}`, in pod-name order. */
function labelledByReplica(answers: InstanceAnswer[]): { [replica: string]: Json } {
  const labelled: { [replica: string]: Json } = {};
  for (const answer of answers) {
    if (answer.response.resources.length === 0) continue;
    const body = answer.response.resources.map(bodyOf).join('');
    labelled[answer.instance.name] = tryParse(body) ?? body;
  }
  return labelled;
}

function render(value: Json, pretty: boolean): string {
  return pretty ? `${JSON.stringify(value, null, 2)}\n` : JSON.stringify(value);
}

function bodyOf(resource: ProtoAny): string {
  return Buffer.from(resource.value).toString('utf8');
}

function debugPathOf(request: DiscoveryRequest): DebugPath {
  return parseDebugPath(request.resource_names[0] ?? '');
}
