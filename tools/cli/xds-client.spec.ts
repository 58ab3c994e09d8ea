import { afterEach, describe, expect, it } from 'vitest';
import { mkdtemp, writeFile } from 'node:fs/promises';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { tmpdir, type NetworkInterfaceInfo } from 'node:os';
import { join } from 'node:path';
import { Metadata, Server, ServerCredentials, status as GrpcStatus, type ServerDuplexStream } from '@grpc/grpc-js';
import { adsServiceDefinition, envoyTypes, typeUrlOf } from '../../src/common/proto.js';
import { createCertificateAuthority } from '../../src/modules/tls/pki.js';
import type { DiscoveryRequest, DiscoveryResponse, ProtoAny } from '../../src/common/xds-types.js';
import { CLIENT_VERSION, runClient } from './client.js';
import { firstPrivateIp, goTimeNonce, istioctlNode, XdsClient, XdsStatusError } from './xds-client.js';

type AdsCall = ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>;

/**
 * What one server-side call saw, in order: 'request' and 'cancelled'. grpc-js also emits 'end' when a
 * call is reset, so half-closing is checked at the HTTP/2 level in 'wire-level lifecycle' below.
 */
interface RecordedCall {
  metadata: Record<string, string | Buffer>;
  deadline: number;
  requests: DiscoveryRequest[];
  events: string[];
  cancelled: Promise<void>;
}

type Answer = (call: AdsCall, request: DiscoveryRequest, index: number) => void;

interface FakeAds {
  address: string;
  calls: RecordedCall[];
  stop(): Promise<void>;
}

const servers: FakeAds[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.stop()));
});

async function startFakeAds(answer: Answer, credentials = ServerCredentials.createInsecure()): Promise<FakeAds> {
  const server = new Server();
  const calls: RecordedCall[] = [];
  server.addService(adsServiceDefinition(), {
    StreamAggregatedResources(call: AdsCall) {
      let markCancelled: () => void = () => undefined;
      const deadline = call.getDeadline();
      const recorded: RecordedCall = {
        metadata: call.metadata.getMap(),
        deadline: deadline instanceof Date ? deadline.getTime() : deadline,
        requests: [],
        events: [],
        cancelled: new Promise((resolve) => (markCancelled = resolve)),
      };
      calls.push(recorded);
      call.on('data', (request: DiscoveryRequest) => {
        recorded.requests.push(request);
        recorded.events.push('request');
        answer(call, request, recorded.requests.length - 1);
      });
      call.on('cancelled', () => {
        recorded.events.push('cancelled');
        markCancelled();
      });
      call.on('error', () => undefined);
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', credentials, (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  const fake: FakeAds = {
    address: `127.0.0.1:${port}`,
    calls,
    stop: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())).then(() => server.forceShutdown()),
  };
  servers.push(fake);
  return fake;
}

function clientConfigAny(id: string, version: string): ProtoAny {
  const type = envoyTypes().lookupType('envoy.service.status.v3.ClientConfig');
  const message = type.fromObject({
    node: { id, metadata: { fields: { CLUSTER_ID: { stringValue: 'Kubernetes' }, ISTIO_VERSION: { stringValue: version } } } },
    generic_xds_configs: [{ type_url: typeUrlOf('envoy.config.cluster.v3.Cluster'), config_status: 'SYNCED' }],
  });
  return { type_url: typeUrlOf('envoy.service.status.v3.ClientConfig'), value: Buffer.from(type.encode(message).finish()) };
}

const IDENTIFIER = '{"Component":"istiod","ID":"<external>","Info":{"version":"1.27.3"}}';

function reply(typeUrl: string, resources: ProtoAny[] = [], nonce = 'nonce-1'): DiscoveryResponse {
  return { version_info: 'v1', resources, type_url: typeUrl, nonce, control_plane: { identifier: IDENTIFIER } };
}

/** Answers every request of its type after first sending an unrelated one, which istioctl must skip. */
const answerAfterNoise: Answer = (call, request) => {
  const headers = new Metadata();
  headers.set('x-answered-by', 'fake-istiod');
  call.sendMetadata(headers);
  call.write(reply('istio.io/debug/other', [{ type_url: 'x', value: Buffer.from('noise') }], 'noise'));
  call.write(reply(request.type_url, [clientConfigAny('reviews-v1.bookinfo', '1.27.3')]));
};

const GO_TIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,9})? \+0000 UTC m=\+\d+\.\d{9}$/;
const NODE_ID = /^sidecar~[^~]*~test-1\.default~default\.svc\.cluster\.local$/;

describe('istioctl request shape', () => {
  it('builds the adsc node with istioctl metadata', () => {
    const node = istioctlNode('external-istiod');
    expect(node.id).toMatch(NODE_ID);
    expect(node.metadata).toEqual({
      fields: {
        GENERATOR: { kind: 'stringValue', stringValue: 'event' },
        SERVICE_ACCOUNT: { kind: 'stringValue', stringValue: 'default' },
        NAMESPACE: { kind: 'stringValue', stringValue: 'external-istiod' },
        ISTIO_VERSION: { kind: 'stringValue', stringValue: '65536.65536.65536' },
      },
    });
  });

  it('picks the first private address like istio GetPrivateIPsIfAvailable', () => {
    const info = (address: string, internal = false): NetworkInterfaceInfo =>
      address.includes(':')
        ? { address, internal, family: 'IPv6', netmask: '', mac: '', cidr: null, scopeid: 0 }
        : { address, internal, family: 'IPv4', netmask: '', mac: '', cidr: null };
    expect(firstPrivateIp({ lo: [info('127.0.0.1', true)], eth0: [info('fe80::1'), info('169.254.1.1'), info('10.1.2.3')] })).toBe(
      '10.1.2.3',
    );
    expect(firstPrivateIp({ eth0: [info('::ffff:192.168.0.7')] })).toBe('192.168.0.7');
    expect(firstPrivateIp({ eth0: [info('2001:db8::5')] })).toBe('2001:db8::5');
    expect(firstPrivateIp({ lo: [info('::1', true)] })).toBe('');
  });

  it('makes Go time.Now().String() nonces', () => {
    const nonce = goTimeNonce();
    expect(nonce).toMatch(GO_TIME);
    expect(goTimeNonce()).not.toBe('');
  });
});

describe('XdsClient.request', () => {
  it("sends exactly istioctl's request and returns the first response of its type", async () => {
    const fake = await startFakeAds(answerAfterNoise);
    const client = new XdsClient({ address: fake.address, plaintext: true, token: 'jwt-token' });
    try {
      const { response, headers } = await client.request('istio.io/debug/syncz', []);
      expect(response.type_url).toBe('istio.io/debug/syncz');
      expect(response.resources).toHaveLength(1);
      expect(headers['x-answered-by']).toBe('fake-istiod');

      const [call] = fake.calls;
      expect(call.metadata.authorization).toBe('Bearer jwt-token');
      expect(call.metadata).not.toHaveProperty('clusterid');
      expect(call.deadline).toBe(Infinity);
      expect(call.requests).toHaveLength(1);
      const [sent] = call.requests;
      expect(sent.type_url).toBe('istio.io/debug/syncz');
      expect(sent.resource_names).toEqual([]);
      expect(sent.version_info).toBe('');
      expect(sent.response_nonce).toMatch(GO_TIME);
      expect(sent.node?.id).toMatch(NODE_ID);
      expect(sent.node?.metadata).toEqual(istioctlNode('istio-system').metadata);

      await call.cancelled;
      expect(call.events).toEqual(['request', 'cancelled']);
    } finally {
      client.close();
    }
  });

  it('uses one stream per request and passes resource names verbatim', async () => {
    const fake = await startFakeAds(answerAfterNoise);
    const client = new XdsClient({ address: fake.address, plaintext: true, istioNamespace: 'external-istiod' });
    try {
      await client.request('istio.io/debug', ['syncz?pretty']);
      await client.request('istio.io/debug/config_dump', ['reviews-v1.bookinfo']);
      expect(fake.calls.map((call) => call.requests.map((r) => r.resource_names))).toEqual([[['syncz?pretty']], [['reviews-v1.bookinfo']]]);
      expect(fake.calls[0].metadata).not.toHaveProperty('authorization');
      expect(fake.calls[1].requests[0].node?.metadata?.fields.NAMESPACE.stringValue).toBe('external-istiod');
    } finally {
      client.close();
    }
  });

  it('rejects with the grpc status, worded like grpc-go', async () => {
    const fake = await startFakeAds((call) => call.emit('error', { code: GrpcStatus.UNAUTHENTICATED, details: 'authentication failure' }));
    const client = new XdsClient({ address: fake.address, plaintext: true });
    try {
      const failure = await client.request('istio.io/debug/syncz').catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(XdsStatusError);
      expect(failure).toMatchObject({ code: GrpcStatus.UNAUTHENTICATED, details: 'authentication failure' });
      expect((failure as Error).message).toBe('rpc error: code = Unauthenticated desc = authentication failure');
    } finally {
      client.close();
    }
  });

  it('times out like adsc WaitVersion and cancels the call', async () => {
    const fake = await startFakeAds(() => undefined);
    const client = new XdsClient({ address: fake.address, plaintext: true });
    try {
      await expect(client.request('istio.io/debug/syncz', [], { timeoutMs: 100 })).rejects.toThrow(
        'timeout, still waiting for updates: istio.io/debug/syncz',
      );
      await fake.calls[0].cancelled;
      expect(fake.calls[0].events).toEqual(['request', 'cancelled']);
    } finally {
      client.close();
    }
  });

  it('reports EOF when the server ends the stream without answering', async () => {
    const fake = await startFakeAds((call) => call.end());
    const client = new XdsClient({ address: fake.address, plaintext: true });
    try {
      await expect(client.request('istio.io/debug/syncz')).rejects.toThrow('EOF');
    } finally {
      client.close();
    }
  });

  it('speaks TLS without verification by default, and verifies when given a CA', async () => {
    const ca = await createCertificateAuthority();
    const leaf = await ca.issue({ commonName: 'istiod', dnsNames: ['istiod.istio-system.svc'] });
    const credentials = ServerCredentials.createSsl(null, [
      { private_key: Buffer.from(leaf.keyPem), cert_chain: Buffer.from(leaf.certPem) },
    ]);
    const fake = await startFakeAds(answerAfterNoise, credentials);
    const insecure = new XdsClient({ address: fake.address, token: 't' });
    const verified = new XdsClient({ address: fake.address, caPem: ca.certPem, serverName: 'istiod.istio-system.svc' });
    const wrongRoot = new XdsClient({
      address: fake.address,
      caPem: (await createCertificateAuthority()).certPem,
      serverName: 'istiod.istio-system.svc',
    });
    try {
      await expect(insecure.request('istio.io/debug/syncz')).resolves.toBeDefined();
      await expect(verified.request('istio.io/debug/syncz')).resolves.toBeDefined();
      await expect(wrongRoot.request('istio.io/debug/syncz', [], { timeoutMs: 5000 })).rejects.toMatchObject({
        code: GrpcStatus.UNAVAILABLE,
      });
    } finally {
      insecure.close();
      verified.close();
      wrongRoot.close();
    }
  });
});

describe('XdsClient.openStream', () => {
  it('sends several requests and an ACK on one stream, node only first', async () => {
    const fake = await startFakeAds((call, request, index) => {
      if (index === 0) call.write(reply(request.type_url, [], 'first-nonce'));
    });
    const client = new XdsClient({ address: fake.address, plaintext: true });
    try {
      const stream = client.openStream();
      stream.send({ type_url: typeUrlOf('envoy.config.cluster.v3.Cluster') });
      const first = await stream.next({ timeoutMs: 2000 });
      stream.send({ type_url: first.type_url, response_nonce: first.nonce, version_info: first.version_info });
      stream.send({ type_url: 'istio.io/debug/syncz' });
      await expect.poll(() => fake.calls[0]?.requests.length ?? 0).toBe(3);
      stream.cancel();
      expect((await stream.status).code).toBe(GrpcStatus.CANCELLED);

      const [initial, ack, second] = fake.calls[0].requests;
      expect(initial.node?.id).toMatch(NODE_ID);
      expect(ack).toMatchObject({ node: null, response_nonce: 'first-nonce', version_info: 'v1' });
      expect(second.node).toBeNull();
      expect(second.response_nonce).toMatch(GO_TIME);
      await fake.calls[0].cancelled;
      const drained: DiscoveryResponse[] = [];
      for await (const response of stream.responses) drained.push(response);
      expect(drained).toEqual([]); // ends quietly after cancel()
    } finally {
      client.close();
    }
  });
});

/**
 * A bare HTTP/2 endpoint speaking just enough gRPC to answer one DiscoveryRequest after a delay,
 * recording the stream's life: 'data', 'responded', 'end' (END_STREAM from the client), 'close'.
 */
async function startWireRecorder(answerDelayMs: number) {
  const streams: { headers: http2.IncomingHttpHeaders; events: string[]; rstCode?: number; closed: Promise<void> }[] = [];
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    let markClosed: () => void = () => undefined;
    const record = {
      headers,
      events: [] as string[],
      rstCode: undefined as number | undefined,
      closed: new Promise<void>((r) => (markClosed = r)),
    };
    streams.push(record);
    stream.on('data', () => record.events.push('data'));
    stream.on('end', () => record.events.push('end'));
    stream.on('close', () => {
      record.events.push('close');
      record.rstCode = stream.rstCode;
      markClosed();
    });
    stream.on('error', () => undefined);
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
    setTimeout(() => {
      const Response = envoyTypes().lookupType('envoy.service.discovery.v3.DiscoveryResponse');
      const body = Response.encode(Response.fromObject({ type_url: 'istio.io/debug/syncz', nonce: 'n' })).finish();
      const prefix = Buffer.alloc(5);
      prefix.writeUInt32BE(body.length, 1);
      if (stream.closed) return;
      stream.write(Buffer.concat([prefix, body]));
      record.events.push('responded');
    }, answerDelayMs);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { address: `127.0.0.1:${port}`, streams, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe('wire-level lifecycle', () => {
  it('does not half-close while waiting, sends no grpc-timeout, and resets with CANCEL once answered', async () => {
    const wire = await startWireRecorder(150);
    const client = new XdsClient({ address: wire.address, plaintext: true });
    try {
      await client.request('istio.io/debug/syncz');
      const [stream] = wire.streams;
      await stream.closed;
      expect(stream.headers).not.toHaveProperty('grpc-timeout');
      // Node's Http2Stream.close() (behind grpc-js cancel) emits END_STREAM right before RST_STREAM,
      // so an 'end' may appear, but only after the answer, as part of the cancellation.
      expect(stream.events.slice(0, stream.events.indexOf('responded') + 1)).toEqual(['data', 'responded']);
      expect(stream.rstCode).toBe(http2.constants.NGHTTP2_CANCEL);
    } finally {
      client.close();
      await wire.close();
    }
  });
});

describe('runClient', () => {
  const env = {} as NodeJS.ProcessEnv;
  const run = async (argv: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runClient(argv, (line) => out.push(line), { err: (line) => err.push(line), env });
    return { code, out, err };
  };

  it('prints proxy-status and version from the proxy, sending the token from --token-file', async () => {
    const fake = await startFakeAds(answerAfterNoise);
    const dir = await mkdtemp(join(tmpdir(), 'istioctl-client-'));
    await writeFile(join(dir, 'token'), 'file-token\n');
    const common = ['--address', fake.address, '--plaintext', '--token-file', join(dir, 'token')];

    const status = await run(['proxy-status', ...common]);
    expect(status).toEqual({
      code: 0,
      err: [],
      out: [
        'NAME                    CLUSTER        ISTIOD         VERSION     SUBSCRIBED TYPES',
        'reviews-v1.bookinfo     Kubernetes     <external>     1.27.3      1 (CDS)',
      ],
    });
    expect(fake.calls[0].metadata.authorization).toBe('Bearer file-token');

    const version = await run(['x', 'version', ...common]);
    expect(version.out).toEqual([
      `client version: ${CLIENT_VERSION}`,
      'control plane version: 1.27.3',
      'data plane version: 1.27.3 (1 proxies)',
    ]);
  });

  it('prints Error: and exits 1 on failures, usage and exit 2 on bad command lines', async () => {
    const fake = await startFakeAds((call) => call.emit('error', { code: GrpcStatus.PERMISSION_DENIED, details: 'authorization failed' }));
    const failed = await run(['ps', '--address', fake.address, '--plaintext']);
    expect(failed).toMatchObject({ code: 1, out: [], err: ['Error: rpc error: code = PermissionDenied desc = authorization failed'] });

    const noDump = await startFakeAds((call, request) => call.write(reply(request.type_url)));
    const missing = await run(['proxy-status', 'reviews-v1', '-n', 'bookinfo', '--address', noDump.address, '--plaintext']);
    expect(missing).toMatchObject({ code: 1, err: ['Error: unable to find config dump in Istiod responses'] });
    expect(noDump.calls[0].requests[0].resource_names).toEqual(['reviews-v1.bookinfo']);

    const usage = await run(['frobnicate']);
    expect(usage.code).toBe(2);
    expect(usage.err[0]).toBe('Error: unknown command "frobnicate"');
  });

  it('shows the debug list after a 404, like istioctl internal-debug', async () => {
    const fake = await startFakeAds((call, request) => {
      const body = request.resource_names[0] === 'list' ? '["syncz","configz"]' : '404 page not found\n';
      call.write(reply(request.type_url, [{ type_url: 'istio.io/debug', value: Buffer.from(body) }]));
    });
    const result = await run(['x', 'internal-debug', 'nope', '--address', fake.address, '--plaintext']);
    expect(result).toEqual({
      code: 0,
      err: [],
      out: [
        'error: according to below command list, please check all supported internal debug commands',
        '[',
        '  "syncz",',
        '  "configz"',
        ']',
      ],
    });
  });
});
