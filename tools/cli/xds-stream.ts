import {
  Metadata,
  status as GrpcStatus,
  type Client,
  type ClientDuplexStream,
  type MethodDefinition,
  type StatusObject,
} from '@grpc/grpc-js';
import { adsClientConstructor } from '../../src/common/proto.js';
import type { DiscoveryRequest, DiscoveryResponse, XdsNode } from '../../src/common/xds-types.js';
import { goTimeNonce } from './go-time.js';
import { QueueEnd, ResponseQueue, TIMED_OUT } from './response-queue.js';
import { XdsEndOfStreamError, XdsStatusError, XdsTimeoutError } from './xds-errors.js';

/** One open StreamAggregatedResources call, for callers that need more than one request per stream. */
export interface XdsStream {
  /**
   * Writes one request. Fields left undefined get adsc's values: the istioctl node on the first
   * request only (null afterwards), a fresh Go-time `response_nonce`, empty version and names.
   * Pass `node: null` or an explicit nonce (an ACK) to override.
   */
  send(request: Partial<DiscoveryRequest>): void;
  /** Every response in arrival order; ends quietly on cancel() or an OK status, throws on error. */
  readonly responses: AsyncIterable<DiscoveryResponse>;
  /**
   * The next response (of `typeUrl` if given; others are consumed and skipped, as adsc does).
   * Rejects with XdsStatusError, XdsEndOfStreamError ('EOF'), XdsTimeoutError, or 'closed' after cancel().
   */
  next(options?: { typeUrl?: string; timeoutMs?: number }): Promise<DiscoveryResponse>;
  /** Ends the call with CANCELLED (RST_STREAM); the stream is never half-closed first. */
  cancel(): void;
  /** Initial metadata (response headers); `{}` if the call ended without any. */
  readonly metadata: Promise<Record<string, string>>;
  /** The final status, including CANCELLED after cancel(). Never rejects. */
  readonly status: Promise<StatusObject>;
}

export interface OpenStreamOptions {
  token?: string;
  node: XdsNode;
  /** More call metadata, e.g. `clusterid` (istioctl itself sends none). */
  metadata?: Record<string, string>;
}

const ADS_METHOD = 'StreamAggregatedResources';

export function openXdsStream(client: Client, options: OpenStreamOptions): XdsStream {
  const method = adsClientConstructor().service[ADS_METHOD] as MethodDefinition<DiscoveryRequest, DiscoveryResponse>;
  const callMetadata = new Metadata();
  if (options.token) callMetadata.set('authorization', `Bearer ${options.token}`);
  for (const [key, value] of Object.entries(options.metadata ?? {})) callMetadata.set(key, value);
  // No deadline: istioctl bounds only its wait for the answer, never the call (adsc).
  const call: ClientDuplexStream<DiscoveryRequest, DiscoveryResponse> = client.makeBidiStreamRequest(
    method.path,
    method.requestSerialize,
    method.responseDeserialize,
    callMetadata,
    {},
  );

  const queue = new ResponseQueue<DiscoveryResponse>();
  let cancelledLocally = false;
  let nodeSent = false;
  let resolveMetadata: (headers: Record<string, string>) => void = () => undefined;
  const metadata = new Promise<Record<string, string>>((resolve) => (resolveMetadata = resolve));
  const status = new Promise<StatusObject>((resolve) => {
    call.on('status', (final: StatusObject) => {
      resolveMetadata({});
      queue.finish(streamEnd(final, cancelledLocally));
      resolve(final);
    });
  });
  call.on('metadata', (headers: Metadata) => resolveMetadata(metadataRecord(headers)));
  call.on('data', (response: DiscoveryResponse) => queue.push(response));
  // grpc-js also reports a non-OK status as 'error'; 'status' already carries it.
  call.on('error', () => undefined);

  return {
    send(request) {
      if (queue.ended || cancelledLocally) throw new Error('cannot send on a closed xDS stream');
      const node = request.node === undefined ? (nodeSent ? null : options.node) : request.node;
      nodeSent = true;
      call.write({
        version_info: '',
        resource_names: [],
        type_url: '',
        ...request,
        node,
        response_nonce: request.response_nonce ?? goTimeNonce(),
      });
    },
    responses: queue,
    async next({ typeUrl, timeoutMs } = {}) {
      const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
      for (;;) {
        const item = await queue.shift(deadline === undefined ? undefined : Math.max(0, deadline - Date.now()));
        if (item === TIMED_OUT) throw new XdsTimeoutError(typeUrl ?? '');
        if (item instanceof QueueEnd) throw item.reason;
        if (typeUrl === undefined || item.type_url === typeUrl) return item;
      }
    },
    cancel() {
      if (queue.ended) return;
      cancelledLocally = true;
      call.cancel();
    },
    metadata,
    status,
  };
}

function streamEnd(final: StatusObject, cancelledLocally: boolean): QueueEnd {
  if (cancelledLocally && final.code === GrpcStatus.CANCELLED) return new QueueEnd(new Error('closed'), true);
  if (final.code === GrpcStatus.OK) return new QueueEnd(new XdsEndOfStreamError(), true);
  return new QueueEnd(new XdsStatusError(final), false);
}

function metadataRecord(headers: Metadata): Record<string, string> {
  const record: Record<string, string> = {};
  for (const [key, value] of Object.entries(headers.getMap())) {
    record[key] = typeof value === 'string' ? value : value.toString('base64');
  }
  return record;
}
