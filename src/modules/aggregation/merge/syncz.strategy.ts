import { DiscoveryRequest, DiscoveryResponse, ProtoAny } from '../../../common/xds-types.js';
import { InstanceAnswer } from '../fanout-result.js';
import { CLIENT_CONFIG_TYPE_URL, readClientConfigKey } from './client-config-reader.js';
import { MergeContext, MergeStrategy, emptyResponse } from './merge-strategy.js';

interface Candidate {
  resource: ProtoAny;
  lastUpdatedMs: number;
}

/**
 * `istioctl proxy-status` / `x version`: the union of every replica's proxies. A proxy that
 * reconnected to another replica during the fan-out is reported by both; the copy with the newest
 * last_updated is the live connection (it gets the pushes), ties keep the first replica's copy.
 */
@MergeStrategy('istio.io/debug/syncz')
export class SynczStrategy implements MergeStrategy {
  readonly name = 'syncz';
  readonly typeUrl = 'istio.io/debug/syncz';

  merge(request: DiscoveryRequest, answers: InstanceAnswer[], context: MergeContext): DiscoveryResponse {
    const byNode = new Map<string, Candidate>();
    const passthrough: ProtoAny[] = [];
    let duplicates = 0;
    for (const { response } of answers) {
      for (const resource of response.resources) {
        const key = resource.type_url === CLIENT_CONFIG_TYPE_URL ? safeKey(resource) : undefined;
        if (!key?.nodeId) {
          passthrough.push(resource); // not a ClientConfig we can read: never drop data silently
          continue;
        }
        const existing = byNode.get(key.nodeId);
        if (!existing) {
          byNode.set(key.nodeId, { resource, lastUpdatedMs: key.lastUpdatedMs });
          continue;
        }
        duplicates++;
        if (key.lastUpdatedMs > existing.lastUpdatedMs) {
          byNode.set(key.nodeId, { resource, lastUpdatedMs: key.lastUpdatedMs });
        }
      }
    }
    if (duplicates > 0) context.log(`syncz: ${duplicates} proxies were reported by more than one istiod; kept the newest state`);
    const response = emptyResponse(request, answers[0]?.response.version_info ?? '');
    response.resources = [...[...byNode.values()].map((candidate) => candidate.resource), ...passthrough];
    return response;
  }
}

function safeKey(resource: ProtoAny): ReturnType<typeof readClientConfigKey> | undefined {
  try {
    return readClientConfigKey(resource.value);
  } catch {
    return undefined;
  }
}
