import { DiscoveryRequest, DiscoveryResponse } from '../../../common/xds-types.js';
import { InstanceAnswer } from '../fanout-result.js';
import { unionDebugBodies } from './debug-json-union.js';
import { parseDebugPath } from './debug-path.js';
import { MergeContext, MergeStrategy, emptyResponse } from './merge-strategy.js';

const DEBUG_TYPE_URL = 'istio.io/debug';
const NOT_CONNECTED_PREFIX = 'Proxy not connected';

/**
 * `istioctl x internal-debug <path>`: istiod answers one Any whose value is the raw HTTP body of
 * /debug/<path>. How replicas combine depends on the path (see debug-path.ts).
 */
@MergeStrategy(DEBUG_TYPE_URL)
export class InternalDebugStrategy implements MergeStrategy {
  readonly name = 'internal-debug';
  readonly typeUrl = DEBUG_TYPE_URL;

  merge(request: DiscoveryRequest, answers: InstanceAnswer[], context: MergeContext): DiscoveryResponse {
    const response = emptyResponse(request, answers[0]?.response.version_info ?? '');
    const bodies = answers.flatMap((answer) => answer.response.resources.map((r) => Buffer.from(r.value).toString('utf8')));
    if (bodies.length === 0) return response;
    const debugPath = parseDebugPath(request.resource_names[0] ?? '');
    const body = this.mergeBodies(debugPath, bodies, answers, context);
    const typeUrl = answers.find((a) => a.response.resources.length > 0)?.response.resources[0].type_url ?? DEBUG_TYPE_URL;
    response.resources = [{ type_url: typeUrl, value: Buffer.from(body, 'utf8') }];
    return response;
  }

  private mergeBodies(
    debugPath: ReturnType<typeof parseDebugPath>,
    bodies: string[],
    answers: InstanceAnswer[],
    context: MergeContext,
  ): string {
    switch (debugPath.pathClass) {
      case 'union': {
        const merged = unionDebugBodies(debugPath.path, bodies);
        if (merged === undefined) return bodies[0];
        return debugPath.pretty ? `${JSON.stringify(merged, null, 2)}\n` : JSON.stringify(merged);
      }
      case 'proxy-scoped':
        return bodies.find((body) => !body.startsWith(NOT_CONNECTED_PREFIX)) ?? bodies[0];
      case 'action':
        return answers
          .map(
            (answer) => `${answer.instance.name}: ${answer.response.resources.map((r) => Buffer.from(r.value).toString('utf8')).join('')}`,
          )
          .join('\n');
      case 'replica-local':
        context.log(`internal-debug ${debugPath.path}: replica-local data, answered from ${answers[0].instance.name} only`);
        return bodies[0];
      default:
        return bodies[0];
    }
  }
}
