import { credentials, type ChannelOptions, type Client } from '@grpc/grpc-js';
import { istioctlNode } from '../cli/istioctl-node.js';
import { DEFAULT_MAX_MESSAGE_BYTES } from '../cli/xds-client.js';
import { openXdsStream } from '../cli/xds-stream.js';
import { adsClientConstructor } from '../../src/common/proto.js';
import type { DiscoveryResponse } from '../../src/common/xds-types.js';

/**
 * XdsClient's request (one StreamAggregatedResources call per request, istioctl's node, cancelled
 * after the answer) on a connection of its own: grpc-js otherwise shares one HTTP/2 connection
 * between every client of a target, and concurrent istioctl users do not share connections.
 */
export class IstioctlConnection {
  private readonly client: Client;
  private readonly node = istioctlNode();

  /**
   * `token`: sent as `authorization: Bearer` on every call, as istioctl does in its default mode.
   * `extraOptions`: more channel options; a value unique to the connection (e.g. a user number) also
   * keeps grpc-js from handing it a subchannel of another channel, whatever the pool.
   */
  constructor(
    address: string,
    private readonly token?: string,
    extraOptions: ChannelOptions = {},
  ) {
    const Ctor = adsClientConstructor();
    const options: ChannelOptions = {
      'grpc.max_receive_message_length': DEFAULT_MAX_MESSAGE_BYTES,
      'grpc.use_local_subchannel_pool': 1,
      // istioctl dials a host name; an IP as TLS server name is not allowed (RFC 6066) and Node warns.
      'grpc.ssl_target_name_override': 'localhost',
      ...extraOptions,
    };
    // istioctl's token mode: TLS without verifying the server (the bench measures, it does not authenticate).
    const tls = credentials.createSsl(null, null, null, { rejectUnauthorized: false, checkServerIdentity: () => undefined });
    this.client = new Ctor(address, tls, options);
  }

  async request(typeUrl: string, resourceNames: string[], timeoutMs: number): Promise<DiscoveryResponse> {
    const stream = openXdsStream(this.client, { node: this.node, token: this.token });
    try {
      stream.send({ type_url: typeUrl, resource_names: resourceNames });
      return await stream.next({ typeUrl, timeoutMs });
    } finally {
      stream.cancel();
    }
  }

  /** Resolves once the channel is connected (TLS included), so a later request measures no dialing. */
  connect(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => this.client.waitForReady(Date.now() + timeoutMs, (err) => (err ? reject(err) : resolve())));
  }

  close(): void {
    this.client.close();
  }
}
