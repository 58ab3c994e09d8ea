import { connect, type PeerCertificate } from 'node:tls';
import {
  Client,
  Metadata,
  Server,
  type ChannelCredentials,
  type ClientDuplexStream,
  type ServerCredentials,
  type ServerDuplexStream,
} from '@grpc/grpc-js';
import { adsClientConstructor, adsServiceDefinition } from '../../src/common/proto.js';
import type { DiscoveryRequest, DiscoveryResponse } from '../../src/common/xds-types.js';

type AdsClient = Client & {
  StreamAggregatedResources(metadata: Metadata, options: { deadline: Date }): ClientDuplexStream<DiscoveryRequest, DiscoveryResponse>;
};

const CALL_DEADLINE_MS = 10_000;

export interface RunningAds {
  port: number;
  stop(): void;
}

/** A real grpc-js server on loopback whose ADS answers every request with its version_info echoed back. */
export async function startAds(credentials: ServerCredentials): Promise<RunningAds> {
  const server = new Server();
  server.addService(adsServiceDefinition(), {
    StreamAggregatedResources(call: ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>) {
      call.on('data', (request: DiscoveryRequest) =>
        call.write({ version_info: request.version_info, resources: [], type_url: request.type_url, nonce: 'n', control_plane: null }),
      );
      call.on('end', () => call.end());
      call.on('error', () => undefined);
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', credentials, (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  return { port, stop: () => server.forceShutdown() };
}

export interface PeerOptions {
  /** Verify the server against this CA; without it verification is skipped. */
  ca?: string;
  cert?: string;
  key?: string;
}

/** The certificate a fresh TLS connection is handed, negotiated as gRPC would (ALPN h2). */
export function peerCertificate(port: number, options: PeerOptions = {}): Promise<PeerCertificate> {
  return new Promise((resolve, reject) => {
    const socket = connect(
      { host: '127.0.0.1', port, ALPNProtocols: ['h2'], rejectUnauthorized: options.ca !== undefined, ...options },
      () => {
        resolve(socket.getPeerCertificate());
        socket.destroy();
      },
    );
    socket.once('error', reject);
  });
}

export function adsClient(port: number, credentials: ChannelCredentials): AdsClient {
  // A private subchannel pool: each client must open its own connection, never reuse another test's.
  return new (adsClientConstructor())(`127.0.0.1:${port}`, credentials, { 'grpc.use_local_subchannel_pool': 1 }) as unknown as AdsClient;
}

/** One long-lived ADS stream that can be asked again and again. */
export interface AdsStream {
  ask(version: string): Promise<DiscoveryResponse>;
  close(): void;
}

export function openStream(client: AdsClient): AdsStream {
  const call = client.StreamAggregatedResources(new Metadata(), { deadline: new Date(Date.now() + CALL_DEADLINE_MS) });
  const waiting: Array<{ resolve(response: DiscoveryResponse): void; reject(error: Error): void }> = [];
  call.on('data', (response: DiscoveryResponse) => waiting.shift()?.resolve(response));
  let failure: Error | undefined;
  call.on('error', (error: Error) => {
    failure = error;
    waiting.splice(0).forEach((waiter) => waiter.reject(error));
  });
  return {
    ask(version) {
      return new Promise((resolve, reject) => {
        if (failure) return reject(failure);
        waiting.push({ resolve, reject });
        call.write({ version_info: version, node: null, resource_names: [], type_url: 'test', response_nonce: '' });
      });
    },
    close: () => call.cancel(),
  };
}
