import { DiscoveryRequest, DiscoveryResponse, ProtoAny } from '../../../common/xds-types.js';
import { InstanceAnswer } from '../fanout-result.js';
import { ClientConfigKey, tryReadClientConfigKey } from './client-config-reader.js';
import { LiveCopyTally } from './live-copy.js';
import { SYNCZ_TYPE_URL } from './proxy-paths.js';
import { MergeContext, MergeStrategy, emptyResponse } from './merge-strategy.js';

interface Copy extends ClientConfigKey {
  resource: ProtoAny;
}

/**
 * `istioctl proxy-status` / `x version`: the union of every replica's proxies. A proxy is
 * (`node.metadata.CLUSTER_ID`, `node.id`): node.id is only `<pod>.<ns>`, and one external istiod may
 * serve several clusters running the same pod name. The same proxy on two replicas (a reconnect)
 * is reported once, by its live copy (live-copy.ts). Output keeps the order of first appearance.
 */
@MergeStrategy(SYNCZ_TYPE_URL)
export class SynczStrategy implements MergeStrategy {
  readonly name = 'syncz';

  merge(request: DiscoveryRequest, answers: InstanceAnswer[], context: MergeContext): DiscoveryResponse {
    const byProxy = new Map<string, Copy[]>();
    const passthrough: ProtoAny[] = [];
    for (const { response } of answers) {
      for (const resource of response.resources) {
        const key = tryReadClientConfigKey(resource);
        if (!key?.nodeId) {
          passthrough.push(resource); // not a ClientConfig we can read: never drop data silently
          continue;
        }
        const proxy = JSON.stringify([key.clusterId, key.nodeId]);
        const copies = byProxy.get(proxy);
        if (copies) copies.push({ ...key, resource });
        else byProxy.set(proxy, [{ ...key, resource }]);
      }
    }
    const tally = new LiveCopyTally();
    const response = emptyResponse(request, answers[0]?.response.version_info ?? '');
    response.resources = [...[...byProxy.values()].map((copies) => tally.resolve(copies).resource), ...passthrough];
    const summary = tally.describe('syncz', 'last_updated');
    if (summary) context.log(summary);
    return response;
  }
}
