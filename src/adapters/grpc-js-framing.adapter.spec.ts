import { constants as http2Constants } from 'node:http2';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  Server,
  ServerCredentials,
  credentials,
  loadPackageDefinition,
  type ClientDuplexStream,
  type ServerDuplexStream,
  type ServerInterceptor,
  type ServiceClientConstructor,
} from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { GRPC_FRAME_HEADER_BYTES, encodeDiscoveryResponse } from '../common/discovery-response.codec.js';
import { ADS_SERVICE, adsClientConstructor, adsPackageDefinition, adsServiceDefinition } from '../common/proto.js';
import { grpcFrame, openRawCall, openRawSession } from '../../test/kit/raw-grpc.js';
import type { DiscoveryRequest, DiscoveryResponse } from '../common/xds-types.js';
import { oneRequestAtATime, withResponseSerializer } from './grpc-js.adapter.js';
import { sendPreframedResponses } from './grpc-js-framing.adapter.js';

/*
 * Pins what sendPreframedResponses relies on in @grpc/grpc-js, against the real library on loopback:
 * the first server interceptor is handed grpc-js's own call object, whose serializeMessage frames what
 * handler.serialize returns and whose sendMessage calls back once the stream took the frame. If an
 * upgrade changes that, the first test fails (answers would still be right, only copied again).
 */

const METHOD = 'StreamAggregatedResources';
const PATH = `/${ADS_SERVICE}/${METHOD}`;
const MIB = 1024 * 1024;
type AdsServerCall = ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>;
type AdsClientCall = ClientDuplexStream<DiscoveryRequest, DiscoveryResponse>;

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

interface Served {
  port: number;
  /** What the serializer returned, in order. */
  serialized: Buffer[];
  /** What sendPreframedResponses reported sent, in order. */
  sent: Buffer[];
}

async function serve(
  serialize: (value: DiscoveryResponse) => Buffer,
  handler: (call: AdsServerCall) => void,
  path = PATH,
  interceptors?: (sent: Buffer[]) => ServerInterceptor[],
): Promise<Served> {
  const served: Served = { port: 0, serialized: [], sent: [] };
  const definition = withResponseSerializer(adsPackageDefinition(), ADS_SERVICE, METHOD, (value: DiscoveryResponse) => {
    const message = serialize(value);
    served.serialized.push(message);
    return message;
  });
  const loaded = ADS_SERVICE.split('.').reduce<unknown>(
    (node, key) => (node as Record<string, unknown>)[key],
    loadPackageDefinition(definition),
  );
  const server = new Server({
    interceptors: interceptors?.(served.sent) ?? [sendPreframedResponses(path, (frame) => served.sent.push(frame))],
  });
  server.addService((loaded as ServiceClientConstructor).service, { [METHOD]: handler });
  served.port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  cleanups.push(() => server.forceShutdown());
  return served;
}

function open(port: number): AdsClientCall {
  const ctor = adsClientConstructor();
  const client = new ctor(`127.0.0.1:${port}`, credentials.createInsecure(), {
    'grpc.use_local_subchannel_pool': 1,
    'grpc.max_receive_message_length': 64 * MIB,
  }) as unknown as { StreamAggregatedResources(): AdsClientCall; close(): void };
  cleanups.push(() => client.close());
  const call = client.StreamAggregatedResources();
  call.on('error', () => undefined);
  call.write({ version_info: '', node: null, resource_names: [], type_url: 'test', response_nonce: '' });
  return call;
}

function answer(nonce: string, payloadBytes: number, fill = 7): DiscoveryResponse {
  return {
    version_info: 'v1',
    resources: [{ type_url: 'test', value: Buffer.alloc(payloadBytes, fill) }],
    type_url: 'test',
    nonce,
    control_plane: null,
  };
}

const reply = (value: DiscoveryResponse) => (call: AdsServerCall) => call.on('data', () => call.write(value));

describe('sendPreframedResponses (grpc-js-framing.adapter.ts)', () => {
  it('grpc-js: a message with its frame header in front is sent in place, and reported sent over the very buffer the serializer wrote', async () => {
    const served = await serve((value) => encodeDiscoveryResponse(value), reply(answer('n1', 3 * MIB)));
    const received = await new Promise<DiscoveryResponse>((resolve) => open(served.port).once('data', resolve));

    expect(received.nonce).toBe('n1');
    expect(Buffer.from(received.resources[0].value).equals(Buffer.alloc(3 * MIB, 7))).toBe(true);
    await sleep(50); // the write callback may trail the client's read
    expect(served.sent).toHaveLength(1);
    const [message] = served.serialized;
    const [frame] = served.sent;
    expect(frame.buffer).toBe(message.buffer); // no copy
    expect(frame.byteOffset).toBe(message.byteOffset - GRPC_FRAME_HEADER_BYTES);
    expect(frame.length).toBe(message.length + GRPC_FRAME_HEADER_BYTES);
  });

  it('grpc-js: any other message is framed with a copy, as grpc-js itself does: same bytes on the wire', async () => {
    const generic = (value: DiscoveryResponse) => {
      const bytes = encodeDiscoveryResponse(value);
      const alone = Buffer.allocUnsafeSlow(bytes.length); // byteOffset 0: nothing in front
      bytes.copy(alone);
      return alone;
    };
    const served = await serve(generic, reply(answer('n2', 64 * 1024)));
    const received = await new Promise<DiscoveryResponse>((resolve) => open(served.port).once('data', resolve));

    expect(received.nonce).toBe('n2');
    expect(Buffer.from(received.resources[0].value).equals(Buffer.alloc(64 * 1024, 7))).toBe(true);
    await sleep(50);
    expect(served.sent).toHaveLength(0); // the copy is grpc-js's: nothing of the caller's to hand back
  });

  it('grpc-js: a frame the client never reads, then resets, is never reported sent (its buffer must not be reused)', async () => {
    let serverClosed!: () => void;
    const closed = new Promise<void>((resolve) => (serverClosed = resolve));
    const served = await serve(
      (value) => encodeDiscoveryResponse(value),
      (call) => {
        call.on('error', () => undefined);
        call.once('close', () => serverClosed());
        call.on('data', () => call.write(answer('big', 16 * MIB)));
      },
    );
    // Bare HTTP/2 with Node's 64 KiB windows and a paused stream: flow control holds the 16 MiB frame in the server.
    const raw = openRawSession(`127.0.0.1:${served.port}`);
    cleanups.push(() => raw.session.destroy());
    const call = openRawCall(raw.session, PATH);
    call.stream.on('error', () => undefined);
    call.stream.pause();
    const request: DiscoveryRequest = { version_info: '', node: null, resource_names: [], type_url: 'test', response_nonce: '' };
    call.stream.write(grpcFrame(adsServiceDefinition()[METHOD].requestSerialize(request)));
    await sleep(300);
    expect(served.serialized).toHaveLength(1);

    call.stream.close(http2Constants.NGHTTP2_CANCEL);
    await closed;
    await sleep(100);

    expect(served.sent).toHaveLength(0);
  });

  it('leaves other methods alone: framed by grpc-js, nothing reported sent', async () => {
    const served = await serve((value) => encodeDiscoveryResponse(value), reply(answer('n3', 2 * MIB)), '/some.Other/Method');
    const received = await new Promise<DiscoveryResponse>((resolve) => open(served.port).once('data', resolve));
    expect(received.nonce).toBe('n3');
    await sleep(50);
    expect(served.sent).toHaveLength(0);
  });

  it("behind another interceptor (not grpc-js's own call) answers are framed with a copy as usual, and it says so once", async () => {
    const unavailable: string[] = [];
    const served = await serve(
      (value) => encodeDiscoveryResponse(value),
      reply(answer('n4', 2 * MIB)),
      PATH,
      (sent) => [
        oneRequestAtATime(PATH),
        sendPreframedResponses(
          PATH,
          (frame) => sent.push(frame),
          (reason) => unavailable.push(reason),
        ),
      ],
    );
    for (const nonce of ['n4', 'n4']) {
      const received = await new Promise<DiscoveryResponse>((resolve) => open(served.port).once('data', resolve));
      expect(received.nonce).toBe(nonce);
      expect(Buffer.from(received.resources[0].value).equals(Buffer.alloc(2 * MIB, 7))).toBe(true);
    }
    await sleep(50);
    expect(served.sent).toHaveLength(0);
    expect(unavailable).toHaveLength(1);
    expect(unavailable[0]).toContain('serializeMessage');
  });
});
