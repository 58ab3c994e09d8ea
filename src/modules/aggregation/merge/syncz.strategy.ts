import { DiscoveryRequest, DiscoveryResponse, ProtoAny } from '../../../common/xds-types.js';
import { InstanceAnswer } from '../fanout-result.js';
import { ClientConfigKey, tryReadClientConfigKeyInto } from './client-config-reader.js';
import { LiveCopyTally } from './live-copy.js';
import { SYNCZ_TYPE_URL } from './proxy-paths.js';
import { MergeContext, MergeStrategy, emptyResponse } from './merge-strategy.js';

/** One replica's copy of a proxy: its key, read straight into this record, and its resource. */
interface Copy extends ClientConfigKey {
  resource: ProtoAny;
  /** On a proxy's first copy only, once a second one is seen: every copy, in replica order. */
  copies: Copy[] | undefined;
}

/**
 * `istioctl proxy-status` / `x version`: the union of every replica's proxies. A proxy is
 * (`node.metadata.CLUSTER_ID`, `node.id`): node.id is only `<pod>.<ns>`, and one external istiod may
 * serve several clusters running the same pod name. The same proxy on two replicas (a reconnect)
 * is reported once, by its live copy (live-copy.ts). Output keeps the order of first appearance.
 *
 * Large meshes send tens of thousands of ClientConfigs, so the loop makes one object per resource
 * (its key and resource together) and no per-resource key string (ProxyIndex).
 */
@MergeStrategy(SYNCZ_TYPE_URL)
export class SynczStrategy implements MergeStrategy {
  readonly name = 'syncz';

  merge(request: DiscoveryRequest, answers: InstanceAnswer[], context: MergeContext): DiscoveryResponse {
    const index = new ProxyIndex();
    const firstCopies: Copy[] = []; // one per proxy, in order of first appearance
    const passthrough: ProtoAny[] = [];
    for (const { response } of answers) {
      for (const resource of response.resources) {
        const copy = tryReadClientConfigKeyInto<Copy>(resource, {
          nodeId: '',
          clusterId: '',
          lastUpdatedMs: 0,
          stale: false,
          resource,
          copies: undefined,
        });
        if (!copy?.nodeId) {
          passthrough.push(resource); // not a ClientConfig we can read: never drop data silently
          continue;
        }
        const first = index.firstCopy(copy);
        if (!first) firstCopies.push(copy);
        else if (first.copies) first.copies.push(copy);
        else first.copies = [first, copy];
      }
    }
    const tally = new LiveCopyTally();
    const response = emptyResponse(request, answers[0]?.response.version_info ?? '');
    const resources: ProtoAny[] = [];
    for (const { copies, resource } of firstCopies) resources.push(copies ? tally.resolve(copies).resource : resource);
    for (const resource of passthrough) resources.push(resource);
    response.resources = resources;
    const summary = tally.describe('syncz', 'last_updated');
    if (summary) context.log(summary);
    return response;
  }
}

/** Node-id maps per cluster: a power of two, so a hash picks one with a mask. */
const SHARDS = 64;

/**
 * Proxies by (cluster, node id). Each cluster's node ids are spread over SHARDS maps by a cheap hash
 * of the id: one Map of tens of thousands of entries rehashes into ever larger tables, which live
 * outside V8's young generation and cost several times more than the same entries in small maps.
 * The maps still hash keys with V8's seeded hash, so crafted node ids can only unbalance the shards.
 */
class ProxyIndex {
  private readonly byCluster = new Map<string, Array<Map<string, Copy> | undefined>>();

  /** The proxy's first copy, or undefined when `copy` is its first (and is now recorded as such). */
  firstCopy(copy: Copy): Copy | undefined {
    let shards = this.byCluster.get(copy.clusterId);
    if (!shards) this.byCluster.set(copy.clusterId, (shards = new Array<Map<string, Copy> | undefined>(SHARDS)));
    const shard = shardOf(copy.nodeId);
    let byNode = shards[shard];
    if (!byNode) shards[shard] = byNode = new Map();
    const first = byNode.get(copy.nodeId);
    if (!first) byNode.set(copy.nodeId, copy);
    return first;
  }
}

/** FNV-1a over the UTF-16 code units, masked to a shard. */
function shardOf(nodeId: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < nodeId.length; i++) hash = Math.imul(hash ^ nodeId.charCodeAt(i), 0x01000193);
  return hash & (SHARDS - 1);
}
