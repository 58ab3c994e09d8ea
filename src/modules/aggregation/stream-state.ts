import { DiscoveryRequest, DiscoveryResponse, XdsNode } from '../../common/xds-types.js';

/** What one StreamAggregatedResources call remembers between its requests. */
export class StreamState {
  node: XdsNode | undefined;
  headersSent = false;
  /** Every istiod missing from some answer on this stream (reported in the trailers). */
  readonly missing = new Set<string>();
  private readonly sentNonces = new Map<string, Set<string>>();

  recordSent(response: DiscoveryResponse): void {
    let nonces = this.sentNonces.get(response.type_url);
    if (!nonces) this.sentNonces.set(response.type_url, (nonces = new Set()));
    nonces.add(response.nonce);
  }

  /** An ACK/NACK echoes a nonce this proxy sent for that type; istioctl's first nonce is a timestamp. */
  isAck(request: DiscoveryRequest): boolean {
    return !!request.response_nonce && !!this.sentNonces.get(request.type_url)?.has(request.response_nonce);
  }
}
