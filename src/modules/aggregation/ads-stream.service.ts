import { Metadata, ServerDuplexStream, status } from '@grpc/grpc-js';
import { Injectable } from '@nestjs/common';
import { EMPTY, Observable, concatMap, defer, map } from 'rxjs';
import { DiscoveryRequest, DiscoveryResponse, XdsNode } from '../../common/xds-types.js';
import { AggregationService, MISSING_INSTANCES_HEADER } from './aggregation.service.js';
import { rpcError } from './grpc-errors.js';

/** What one StreamAggregatedResources call remembers between its requests. */
class StreamState {
  node: XdsNode | undefined;
  headersSent = false;
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

/**
 * Serves one istioctl stream: every request gets exactly one response (in request order), ACKs get
 * none, and the stream stays open until the client half-closes or cancels (istioctl does neither
 * explicitly and sets no deadline, so nothing here waits for either).
 */
@Injectable()
export class AdsStreamService {
  constructor(private readonly aggregation: AggregationService) {}

  serve(requests$: Observable<DiscoveryRequest>, metadata: Metadata, call: ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>): Observable<DiscoveryResponse> {
    const state = new StreamState();
    const trailers = new Metadata();
    // Nest ends the call with a bare end(); route our trailers through it.
    const end = call.end.bind(call) as (metadata?: Metadata) => void;
    call.end = ((md?: Metadata) => end(md ?? trailers)) as typeof call.end;
    const deadline = callerDeadline(call);

    return requests$.pipe(
      concatMap((request) =>
        defer(() => {
          if (!state.node) {
            if (!request.node?.id) throw rpcError(status.INVALID_ARGUMENT, 'missing node information');
            state.node = request.node;
          }
          if (state.isAck(request)) return EMPTY;
          return this.aggregation.aggregate(request, state.node, { metadata, deadline }).pipe(
            map(({ response, missing }) => {
              state.recordSent(response);
              for (const failed of missing) state.missing.add(failed.instance.name);
              if (state.missing.size > 0) trailers.set(MISSING_INSTANCES_HEADER, [...state.missing].join(','));
              if (!state.headersSent) {
                state.headersSent = true;
                const headers = new Metadata();
                if (missing.length > 0) headers.set(MISSING_INSTANCES_HEADER, missing.map((m) => m.instance.name).join(','));
                call.sendMetadata(headers);
              }
              return response;
            }),
          );
        }),
      ),
    );
  }
}

function callerDeadline(call: ServerDuplexStream<unknown, unknown>): Date | undefined {
  const deadline = call.getDeadline();
  if (deadline instanceof Date) return deadline;
  return Number.isFinite(deadline) ? new Date(deadline) : undefined;
}
