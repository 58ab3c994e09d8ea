import { status } from '@grpc/grpc-js';
import { BehaviorSubject, NEVER, Observable, switchMap, take, timer } from 'rxjs';
import { DiscoveryRequest, DiscoveryResponse, XdsNode } from '../../common/xds-types.js';
import { rpcError } from './grpc-errors.js';

/**
 * Nonces remembered per stream for ACK detection, oldest forgotten first. A client ACKs the answer
 * it just got (istioctl ≤ 1.15 and non-debug types), so the last few are all that matter; an ACK of a
 * forgotten nonce is answered as a new request.
 */
export const MAX_REMEMBERED_NONCES = 16;

/** What one StreamAggregatedResources call remembers between its requests. */
export class StreamState {
  node: XdsNode | undefined;
  headersSent = false;
  /** Every istiod missing from some answer on this stream (reported in the trailers). */
  readonly missing = new Set<string>();
  /** nonce -> type URL of the answers sent, in sending order. */
  private readonly sentNonces = new Map<string, string>();
  private requests = 0;
  /** Requests taken and not yet done. */
  private readonly inFlight = new BehaviorSubject(0);

  constructor(private readonly maxRequests: number) {}

  /** A request was taken off the stream: counted against MAX_REQUESTS_PER_STREAM, in flight until done(). */
  taken(): void {
    if (++this.requests > this.maxRequests) {
      throw rpcError(
        status.RESOURCE_EXHAUSTED,
        `more than MAX_REQUESTS_PER_STREAM=${this.maxRequests} requests on one stream; open a new stream`,
      );
    }
    this.inFlight.next(this.inFlight.value + 1);
  }

  /** The request taken last is finished: its answer flushed to the caller, or it needed none (an ACK). */
  done(): void {
    if (this.inFlight.value > 0) this.inFlight.next(this.inFlight.value - 1);
  }

  /** Emits once the stream has had no request in flight for `ms` (from now, or from the last done()). */
  idleFor(ms: number): Observable<number> {
    return this.inFlight.pipe(
      switchMap((count) => (count > 0 ? NEVER : timer(ms))),
      take(1),
    );
  }

  recordSent(response: DiscoveryResponse): void {
    this.sentNonces.delete(response.nonce);
    this.sentNonces.set(response.nonce, response.type_url);
    if (this.sentNonces.size > MAX_REMEMBERED_NONCES) {
      const oldest = this.sentNonces.keys().next();
      if (!oldest.done) this.sentNonces.delete(oldest.value);
    }
  }

  /** An ACK/NACK echoes a nonce this proxy sent for that type; istioctl's first nonce is a timestamp. */
  isAck(request: DiscoveryRequest): boolean {
    return !!request.response_nonce && this.sentNonces.get(request.response_nonce) === request.type_url;
  }

  /** Nonces currently remembered (at most MAX_REMEMBERED_NONCES). */
  get rememberedNonces(): number {
    return this.sentNonces.size;
  }
}
