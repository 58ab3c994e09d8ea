import { credentials, type ChannelCredentials, type ChannelOptions, type Client } from '@grpc/grpc-js';
import { adsClientConstructor } from '../../src/common/proto.js';
import type { DiscoveryResponse } from '../../src/common/xds-types.js';
import { DEFAULT_ISTIO_NAMESPACE, istioctlNode } from './istioctl-node.js';
import { openXdsStream, type XdsStream } from './xds-stream.js';

export { istioctlNode, firstPrivateIp, ISTIOCTL_NODE_ISTIO_VERSION } from './istioctl-node.js';
export { goTimeNonce } from './go-time.js';
export { XdsStatusError, XdsTimeoutError, XdsEndOfStreamError } from './xds-errors.js';
export type { XdsStream } from './xds-stream.js';
export {
  decodeClientConfigs,
  controlPlaneInfo,
  parseControlPlaneIdentifier,
  decodeConfigDump,
  embeddedResourceName,
  type ClientConfig,
  type ControlPlaneInstance,
  type DecodedConfig,
  type GenericXdsConfig,
  type IstioBuildInfo,
} from './xds-decoders.js';

/** istioctl's `--timeout` default: how long to wait for the answer, not a gRPC deadline. */
export const DEFAULT_TIMEOUT_MS = 30_000;
/** adsc's `defaultClientMaxReceiveMessageSize` (MaxInt32): mesh-wide config dumps exceed 4 MiB. */
export const DEFAULT_MAX_MESSAGE_BYTES = 2 ** 31 - 1;

export interface XdsClientOptions {
  /** host:port of the proxy (or an istiod). */
  address: string;
  /** h2c, like `--plaintext`. */
  plaintext?: boolean;
  /** Sent as `authorization: Bearer <token>` on every call when set. */
  token?: string;
  /** PEM roots to verify the server with (istioctl `--cert-dir`'s root-cert.pem). */
  caPem?: string;
  /** TLS name to send (SNI) and verify against; defaults to the address host. */
  serverName?: string;
  /** Skip server verification; defaults to true without `caPem`, as istioctl's token mode does. */
  insecure?: boolean;
  /** More call metadata, e.g. `clusterid` for tests (istioctl itself sends none). */
  metadata?: Record<string, string>;
  /** Namespace put in the node metadata (istioctl `-i`). */
  istioNamespace?: string;
  maxMessageBytes?: number;
}

export interface XdsResult {
  response: DiscoveryResponse;
  /** The response headers (initial metadata) of the call that answered. */
  headers: Record<string, string>;
}

/**
 * Talks to the proxy exactly as istioctl does: one StreamAggregatedResources call per request, the
 * adsc node and Go-time nonce, no deadline, never half-closed, cancelled once the answer is in.
 */
export class XdsClient {
  private readonly client: Client;
  private readonly istioNamespace: string;

  constructor(private readonly options: XdsClientOptions) {
    const Ctor = adsClientConstructor();
    this.client = new Ctor(options.address, channelCredentials(options), channelOptions(options));
    this.istioNamespace = options.istioNamespace ?? DEFAULT_ISTIO_NAMESPACE;
  }

  /** Sends one request and resolves with the first response of the same type URL. */
  async request(
    typeUrl: string,
    resourceNames: string[] = [],
    { timeoutMs = DEFAULT_TIMEOUT_MS }: { timeoutMs?: number } = {},
  ): Promise<XdsResult> {
    const stream = this.openStream();
    try {
      stream.send({ type_url: typeUrl, resource_names: resourceNames });
      const response = await stream.next({ typeUrl, timeoutMs });
      return { response, headers: await stream.metadata };
    } finally {
      // istioctl exits without closing the send side; cancelling is the equivalent that frees the call.
      stream.cancel();
    }
  }

  /** A raw stream for callers that send several requests (or ACKs) on one call. */
  openStream(): XdsStream {
    const { token, metadata } = this.options;
    return openXdsStream(this.client, { token, metadata, node: istioctlNode(this.istioNamespace) });
  }

  close(): void {
    this.client.close();
  }
}

function channelCredentials(options: XdsClientOptions): ChannelCredentials {
  if (options.plaintext) return credentials.createInsecure();
  const insecure = options.insecure ?? options.caPem === undefined;
  if (insecure) {
    // istioctl's token mode sets InsecureSkipVerify: no chain and no name check.
    return credentials.createSsl(null, null, null, { rejectUnauthorized: false, checkServerIdentity: () => undefined });
  }
  const roots = options.caPem === undefined ? null : Buffer.from(options.caPem);
  return credentials.createSsl(roots);
}

function channelOptions(options: XdsClientOptions): ChannelOptions {
  const channel: ChannelOptions = {
    'grpc.max_receive_message_length': options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    // istioctl's grpc-go grows its HTTP/2 window by BDP estimation (up to 16 MiB); grpc-js keeps
    // 64 KiB unless told, which would make large answers crawl for reasons istioctl does not have.
    'grpc-node.flow_control_window': 16 * 1024 * 1024,
  };
  if (options.serverName && !options.plaintext) channel['grpc.ssl_target_name_override'] = options.serverName;
  return channel;
}
