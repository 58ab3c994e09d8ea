import { randomUUID } from 'node:crypto';
import type { DiscoveryRequest, DiscoveryResponse } from '../../src/common/xds-types.js';
import { SimulatedIstiod, type CallerIdentity } from '../sim/istiod-simulator.js';

/**
 * A simulated istiod that builds each distinct answer once and then replays its resources (with a
 * fresh version and nonce, as istiod's would have). Every replica of the fleet shares one JavaScript
 * thread, so building 10 syncz answers at once costs 10× here, while real replicas build theirs in
 * parallel, in Go, in well under a millisecond; without this the bench would charge the harness's
 * serialization to the proxy, the only path that asks every replica. The answers still travel the
 * whole way: protobuf encoding, HTTP/2, TLS. Valid because the bench never changes a replica's
 * proxies or knobs after start.
 */
export class MemoizedIstiod extends SimulatedIstiod {
  private readonly answers = new Map<string, DiscoveryResponse>();
  private replayed = 0;

  override answer(request: DiscoveryRequest, caller: CallerIdentity | undefined): DiscoveryResponse {
    const key = JSON.stringify([request.type_url, request.resource_names, caller ?? null]);
    const built = this.answers.get(key);
    if (!built) {
      const answer = super.answer(request, caller);
      this.answers.set(key, answer);
      return answer;
    }
    const version = `${new Date().toISOString().replace(/\.\d{3}Z$/, 'Z')}/replay-${++this.replayed}`;
    return { ...built, version_info: version, nonce: `${version}${randomUUID()}` };
  }
}
