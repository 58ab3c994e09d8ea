import { constants as http2Constants } from 'node:http2';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  Server,
  ServerCredentials,
  credentials,
  makeGenericClientConstructor,
  status as grpcStatus,
  type ClientDuplexStream,
  type ServerDuplexStream,
  type ServiceDefinition,
  type StatusObject,
} from '@grpc/grpc-js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { grpcFrame, openRawCall, openRawSession } from '../../test/kit/raw-grpc.js';
import { createServerWithResetLimit, oneRequestAtATime, requestGate, shutdownGracefully } from './grpc-js.adapter.js';

/*
 * Facts about @grpc/grpc-js's HTTP/2 transport that the proxy's hardening relies on (reset limits,
 * read pacing, message size limits, graceful shutdown), checked against the real library on
 * loopback. A failure here after an upgrade means grpc-js (or node:http2) changed; see
 * grpc-js.adapter.ts before touching the test.
 */

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

/** A bidi method that moves raw bytes, so tests can send any payload. */
const RAW_PATH = '/pinned.Raw/Echo';
const rawService: ServiceDefinition = {
  Echo: {
    path: RAW_PATH,
    requestStream: true,
    responseStream: true,
    requestSerialize: (bytes: Buffer) => bytes,
    requestDeserialize: (bytes: Buffer) => bytes,
    responseSerialize: (bytes: Buffer) => bytes,
    responseDeserialize: (bytes: Buffer) => bytes,
  },
};
type RawServerCall = ServerDuplexStream<Buffer, Buffer>;
type RawClientCall = ClientDuplexStream<Buffer, Buffer>;

async function serveRaw(handler: (call: RawServerCall) => void, server = new Server()): Promise<{ port: number; server: Server }> {
  server.addService(rawService, { Echo: handler });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  cleanups.push(() => server.forceShutdown());
  return { port, server };
}

function rawClient(port: number): { Echo(): RawClientCall; close(): void } {
  const client = new (makeGenericClientConstructor(rawService, 'Raw'))(`127.0.0.1:${port}`, credentials.createInsecure(), {
    'grpc.use_local_subchannel_pool': 1,
  }) as unknown as { Echo(): RawClientCall; close(): void };
  cleanups.push(() => client.close());
  return client;
}

const echo = (call: RawServerCall) => {
  call.on('error', () => undefined);
  call.on('data', (message: Buffer) => call.write(message));
};

describe('node:http2 options through grpc-js (relied on by createServerWithResetLimit)', () => {
  it('grpc-js: streamResetBurst/streamResetRate added to commonServerOptions before bindAsync reach the connections node:http2 serves', async () => {
    // A tiny budget so the guard must trip: the client resets each stream after its answer.
    const server = createServerWithResetLimit({}, { streamResetBurst: 5, streamResetRate: 1 });
    const { port } = await serveRaw(echo, server);
    const client = rawClient(port);
    let connectionErrors = 0;
    for (let i = 0; i < 40 && connectionErrors === 0; i++) {
      await new Promise<void>((resolve) => {
        const call = client.Echo();
        call.on('error', (error: StatusObject) => {
          if (error.code !== grpcStatus.CANCELLED) connectionErrors++;
        });
        call.on('status', () => resolve());
        call.on('data', () => call.cancel());
        call.write(Buffer.from('ping'));
      });
    }
    expect(connectionErrors).toBeGreaterThan(0);
  });
});

describe('grpc-js server interceptors (relied on by oneRequestAtATime)', () => {
  it('grpc-js: a message held back in onReceiveMessage stops grpc-js reading the stream, so HTTP/2 flow control stalls the client; release() lets the next one in', async () => {
    const COUNT = 200;
    const received: RawServerCall[] = [];
    const server = new Server({ interceptors: [oneRequestAtATime(RAW_PATH)] });
    const { port } = await serveRaw((call) => {
      call.on('error', () => undefined);
      call.on('data', () => received.push(call));
    }, server);
    const call = rawClient(port).Echo();
    call.on('error', () => undefined);
    let flushed = 0;
    for (let i = 0; i < COUNT; i++) call.write(Buffer.alloc(32 * 1024, i), () => flushed++);

    await vi.waitFor(() => expect(received).toHaveLength(1));
    await sleep(300);
    expect(received).toHaveLength(1);
    // Socket buffers and the HTTP/2 windows take about a MiB; the rest of the 6.4 MiB waits in the client.
    console.info(`held back: ${flushed} of ${COUNT} 32 KiB messages left the client`);
    expect(flushed).toBeLessThan(COUNT / 4);

    requestGate(received[0].metadata).release();
    await vi.waitFor(() => expect(received).toHaveLength(2));
    await sleep(100);
    expect(received).toHaveLength(2);
  });

  it('grpc-js: calls of other methods pass through untouched', async () => {
    const server = new Server({ interceptors: [oneRequestAtATime('/some.Other/Method')] });
    let received = 0;
    const { port } = await serveRaw((call) => {
      call.on('error', () => undefined);
      call.on('data', () => received++);
    }, server);
    const call = rawClient(port).Echo();
    call.on('error', () => undefined);
    for (let i = 0; i < 5; i++) call.write(Buffer.from('x'));
    await vi.waitFor(() => expect(received).toBe(5));
  });
});

describe('grpc-js message size limits (relied on by MAX_REQUEST_BYTES)', () => {
  it('grpc-js: a request whose length prefix claims more than grpc.max_receive_message_length gets RESOURCE_EXHAUSTED at once, before its body', async () => {
    let handlerSawMessage = false;
    const server = new Server({ 'grpc.max_receive_message_length': 1024 * 1024 });
    const { port } = await serveRaw((call) => {
      call.on('error', () => undefined);
      call.on('data', () => (handlerSawMessage = true));
    }, server);
    const { session } = openRawSession(`127.0.0.1:${port}`);
    cleanups.push(() => session.destroy());
    const raw = openRawCall(session, RAW_PATH);
    raw.stream.on('error', () => undefined);
    const started = Date.now();
    // 200 MiB declared, 4 KiB sent, the stream left open: only the prefix can trigger the answer.
    raw.stream.write(grpcFrame(Buffer.alloc(4096), 200 * 1024 * 1024));

    const end = await raw.status;
    expect(end.grpcStatus).toBe(grpcStatus.RESOURCE_EXHAUSTED);
    expect(end.grpcMessage).toContain(`${200 * 1024 * 1024} vs ${1024 * 1024}`);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(handlerSawMessage).toBe(false);
  });
});

describe('grpc-js graceful shutdown (relied on by shutdownGracefully)', () => {
  it('grpc-js: tryShutdown sends GOAWAY NO_ERROR, keeps open streams working, and completes once the client closes them', async () => {
    const { port, server } = await serveRaw(echo);
    const { session, goaways } = openRawSession(`127.0.0.1:${port}`);
    cleanups.push(() => session.destroy());
    const raw = openRawCall(session, RAW_PATH);
    raw.stream.write(grpcFrame(Buffer.from('one')));
    expect((await raw.nextMessage()).toString()).toBe('one');

    let closed: boolean | undefined;
    void shutdownGracefully(server, 10_000).then((graceful) => (closed = graceful));
    await vi.waitFor(() => expect(goaways).toEqual([http2Constants.NGHTTP2_NO_ERROR]));
    raw.stream.write(grpcFrame(Buffer.from('two')));
    expect((await raw.nextMessage()).toString()).toBe('two');
    await sleep(200);
    expect(closed).toBeUndefined();

    raw.stream.close(http2Constants.NGHTTP2_CANCEL);
    await vi.waitFor(() => expect(closed).toBe(true));
  });

  it('grpc-js: past the timeout shutdownGracefully forces the close, resetting streams still open', async () => {
    const { port, server } = await serveRaw(echo);
    const { session } = openRawSession(`127.0.0.1:${port}`);
    cleanups.push(() => session.destroy());
    const raw = openRawCall(session, RAW_PATH);
    raw.stream.on('error', () => undefined);
    raw.stream.write(grpcFrame(Buffer.from('one')));
    await raw.nextMessage();

    expect(await shutdownGracefully(server, 200)).toBe(false);
    const end = await raw.ended;
    expect(end.grpcStatus).toBeUndefined();
  });
});
