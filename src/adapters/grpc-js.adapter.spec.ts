import { setTimeout as sleep } from 'node:timers/promises';
import {
  Metadata,
  Server,
  ServerCredentials,
  credentials,
  loadPackageDefinition,
  type ClientDuplexStream,
  type ServerDuplexStream,
  type ServiceClientConstructor,
  type ServiceDefinition,
  type StatusObject,
} from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { ADS_SERVICE, adsClientConstructor, adsPackageDefinition, adsServiceDefinition } from '../common/proto.js';
import { encodeDiscoveryResponse } from '../common/discovery-response.codec.js';
import type { DiscoveryRequest, DiscoveryResponse } from '../common/xds-types.js';
import { createCertificateAuthority } from '../modules/tls/pki.js';
import { peerCertificate } from '../../test/kit/ads-harness.js';
import { ReloadableServerCredentials, withResponseDeserializer, withResponseSerializer } from './grpc-js.adapter.js';

/*
 * Facts about @grpc/grpc-js that the proxy relies on, checked against the real library on loopback.
 * A failure here after an upgrade means grpc-js changed; see the adapter (and call sites) before
 * touching the test.
 */

const METHOD = 'StreamAggregatedResources';
type AdsServerCall = ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>;
type AdsClientCall = ClientDuplexStream<DiscoveryRequest, unknown>;
type StreamingClient = { StreamAggregatedResources(): AdsClientCall; close(): void };

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

async function serve(
  service: ServiceDefinition,
  handler: (call: AdsServerCall) => void,
  serverCredentials = ServerCredentials.createInsecure(),
): Promise<number> {
  const server = new Server();
  server.addService(service, { [METHOD]: handler });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', serverCredentials, (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  cleanups.push(() => server.forceShutdown());
  return port;
}

function open(port: number, ctor: ServiceClientConstructor = adsClientConstructor()): AdsClientCall {
  const client = new ctor(`127.0.0.1:${port}`, credentials.createInsecure(), {
    'grpc.use_local_subchannel_pool': 1,
  }) as unknown as StreamingClient;
  cleanups.push(() => client.close());
  const call = client.StreamAggregatedResources();
  call.on('error', () => undefined);
  return call;
}

function ask(call: AdsClientCall, version = 'v1'): void {
  call.write({ version_info: version, node: null, resource_names: [], type_url: 'test', response_nonce: '' });
}

function statusOf(call: AdsClientCall): Promise<StatusObject> {
  return new Promise((resolve) => call.on('status', resolve));
}

function response(nonce: string, payload = Buffer.alloc(0)): DiscoveryResponse {
  return { version_info: 'v1', resources: [{ type_url: 'test', value: payload }], type_url: 'test', nonce, control_plane: null };
}

describe('grpc-js server calls (relied on by adapters/nest-grpc.adapter.ts)', () => {
  it('grpc-js: end(metadata) on a server stream sends that metadata as the trailers of an OK status', async () => {
    const port = await serve(adsServiceDefinition(), (call) => {
      call.on('data', () => {
        const trailers = new Metadata();
        trailers.set('x-pinned-trailer', 'kept');
        call.end(trailers);
      });
    });
    const call = open(port);
    const status = statusOf(call);
    call.on('data', () => undefined);
    ask(call);

    const { code, metadata } = await status;
    expect(code).toBe(0);
    expect(metadata.get('x-pinned-trailer')).toEqual(['kept']);
  });

  it('grpc-js: the write(value, callback) callback waits for the bytes to be flushed, held back by a client that stops reading', async () => {
    const COUNT = 64;
    let flushed = 0;
    const port = await serve(adsServiceDefinition(), (call) => {
      call.on('data', () => {
        for (let i = 0; i < COUNT; i++) call.write(response(`n${i}`, Buffer.alloc(64 * 1024, i)), () => flushed++);
        call.end();
      });
    });
    const call = open(port);
    const status = statusOf(call);
    let received = 0;
    call.on('data', () => received++);
    call.pause();
    ask(call);

    // Long enough for every write to be flushed if grpc-js called back on buffering instead.
    await sleep(300);
    expect(flushed).toBeLessThan(COUNT / 2);
    call.resume();
    await status;
    expect(received).toBe(COUNT);
    expect(flushed).toBe(COUNT);
  });

  it("grpc-js: a server call cancelled by the client emits 'close', even with writes still waiting to be flushed", async () => {
    let closed!: () => void;
    const serverClosed = new Promise<void>((resolve) => (closed = resolve));
    let writing!: () => void;
    const serverWriting = new Promise<void>((resolve) => (writing = resolve));
    const port = await serve(adsServiceDefinition(), (call) => {
      call.on('error', () => undefined);
      call.once('close', () => closed());
      call.on('data', () => {
        for (let i = 0; i < 64; i++) call.write(response(`n${i}`, Buffer.alloc(64 * 1024)), () => undefined);
        writing();
      });
    });
    const call = open(port);
    call.on('data', () => undefined);
    call.pause();
    ask(call);
    await serverWriting;

    call.cancel();

    await serverClosed;
  });
});

describe('grpc-js codecs taken from method definitions (relied on by common/proto.ts)', () => {
  it('grpc-js: a server encodes responses with the responseSerialize of the package definition it was loaded from', async () => {
    const encoded: string[] = [];
    const definition = withResponseSerializer(adsPackageDefinition(), ADS_SERVICE, METHOD, (value: DiscoveryResponse) => {
      encoded.push(value.nonce);
      return encodeDiscoveryResponse({ ...value, version_info: 'encoded-by-ours' });
    });
    const loaded = ADS_SERVICE.split('.').reduce<unknown>(
      (node, key) => (node as Record<string, unknown>)[key],
      loadPackageDefinition(definition),
    );
    const port = await serve((loaded as ServiceClientConstructor).service, (call) => call.on('data', () => call.write(response('n1'))));
    const call = open(port);
    const answer = new Promise<DiscoveryResponse>((resolve) => call.once('data', resolve));
    ask(call);

    expect((await answer).version_info).toBe('encoded-by-ours');
    expect(encoded).toEqual(['n1']);
    // A copy: the shared definition (clients, the simulated istiod) keeps the generic codec.
    expect(adsPackageDefinition()[ADS_SERVICE]).not.toBe(definition[ADS_SERVICE]);
  });

  it('grpc-js: a makeGenericClientConstructor client decodes responses with the responseDeserialize it was given', async () => {
    const ctor = withResponseDeserializer(adsServiceDefinition(), ADS_SERVICE, METHOD, (bytes: Buffer) => ({ decodedBytes: bytes.length }));
    const port = await serve(adsServiceDefinition(), (call) => call.on('data', () => call.write(response('n1', Buffer.alloc(10)))));
    const call = open(port, ctor);
    const answer = new Promise<unknown>((resolve) => call.once('data', resolve));
    ask(call);

    expect(await answer).toEqual({ decodedBytes: encodeDiscoveryResponse(response('n1', Buffer.alloc(10))).length });
  });
});

describe('grpc-js ServerCredentials subclassing (relied on by modules/tls)', () => {
  it('grpc-js: updateSecureContextOptions of a ServerCredentials subclass reaches the TLS handshakes of a bound server', async () => {
    const ca = await createCertificateAuthority();
    const issue = (commonName: string) => ca.issue({ commonName, dnsNames: ['localhost'], ips: ['127.0.0.1'] });
    const [first, second] = await Promise.all([issue('first'), issue('second')]);
    const sut = new ReloadableServerCredentials({ requestCert: false }, { cert: first.certPem, key: first.keyPem });
    const port = await serve(adsServiceDefinition(), () => undefined, sut);
    expect((await peerCertificate(port, { ca: ca.certPem })).subject.CN).toBe('first');

    sut.replace({ cert: second.certPem, key: second.keyPem });

    expect((await peerCertificate(port, { ca: ca.certPem })).subject.CN).toBe('second');
  });
});
