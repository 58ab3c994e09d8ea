import { constants as http2Constants } from 'node:http2';
import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adsClientConstructor } from '../src/common/proto.js';
import type { DiscoveryRequest, DiscoveryResponse } from '../src/common/xds-types.js';
import { STREAM_ENDED_HEADER } from '../src/modules/aggregation/ads-stream.service.js';
import { AdsStreamService } from '../src/modules/aggregation/ads-stream.service.js';
import { MAX_REMEMBERED_NONCES } from '../src/modules/aggregation/stream-state.js';
import { istioctlNode } from '../tools/cli/istioctl-node.js';
import { decodeClientConfigs } from '../tools/cli/xds-decoders.js';
import { XdsStatusError, type XdsStream } from '../tools/cli/xds-client.js';
import { goTimeNonce } from '../tools/cli/go-time.js';
import type { SimulatedIstiod } from '../tools/sim/istiod-simulator.js';
import { buildDemoMesh } from '../tools/sim/mesh-fixtures.js';
import { startMesh, type MeshHarness } from './kit/mesh-harness.js';
import { grpcFrame, openRawCall, openRawSession, type RawCall, type RawSession } from './kit/raw-grpc.js';
import { exitCodeWithin, useDemoWithMain } from './kit/demo-main-process.js';
import { waitFor } from './kit/wait-for.js';

/*
 * Transport hardening, over real sockets on loopback: one stalled or hostile caller, a gateway in
 * front, a rollout, and nobody else notices. Each test fails against the proxy before the change
 * it covers (named in its describe).
 */

const SYNCZ = 'istio.io/debug/syncz';
const CONFIG_DUMP = 'istio.io/debug/config_dump';
const ADS_PATH = '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources';
const MIB = 1024 * 1024;
const ads = adsClientConstructor().service.StreamAggregatedResources;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** `global.gc` without restarting the worker with --expose-gc (as faults.e2e-spec.ts does). */
function exposeGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/** JS heap plus Buffers (answers are Buffers, outside the V8 heap), after collecting garbage. */
function memoryAfterGc(gc: () => void): number {
  gc();
  gc();
  const { heapUsed, external } = process.memoryUsage();
  return heapUsed + external;
}

/** Requests the simulated istiods have received, i.e. what the proxy fanned out. */
function upstreamRequests(istiods: SimulatedIstiod[]): number {
  return istiods.reduce((sum, istiod) => sum + istiod.streams.reduce((n, stream) => n + stream.requests.length, 0), 0);
}

/** An istioctl request as framed bytes: adsc's node on the first request of a stream only. */
function requestFrame(typeUrl: string, resourceNames: string[] = [], { first = true, nonce = goTimeNonce() } = {}): Buffer {
  const request: DiscoveryRequest = {
    version_info: '',
    node: first ? istioctlNode() : null,
    resource_names: resourceNames,
    type_url: typeUrl,
    response_nonce: nonce,
  };
  return grpcFrame(ads.requestSerialize(request));
}

function decodeResponse(message: Buffer): DiscoveryResponse {
  return ads.responseDeserialize(message) as DiscoveryResponse;
}

function rawAds(raw: RawSession, token: string): RawCall {
  const call = openRawCall(raw.session, ADS_PATH, { authorization: `Bearer ${token}` });
  call.stream.on('error', () => undefined);
  return call;
}

describe('backpressure: a caller that stops reading holds only itself', () => {
  const PADDING_PER_ISTIOD = 1024 * 1024; // a ~2 MiB merged proxy-status answer
  let mesh: MeshHarness;
  let gc: () => void;

  beforeAll(async () => {
    gc = exposeGc();
    mesh = await startMesh({ istiods: buildDemoMesh() });
  });
  afterAll(async () => mesh?.stop());

  it('100 proxy-status requests (~2 MiB answers) on one stream that is never read: at most 2 fan-outs, no heap growth by their sum; answers resume once it reads', async () => {
    const REQUESTS = 100;
    const client = mesh.client();
    for (let i = 0; i < 5; i++) await client.request(SYNCZ); // warm channels and the JIT before the baseline
    for (const istiod of mesh.istiods) istiod.knobs.paddingBytes = PADDING_PER_ISTIOD;
    const baselineMemory = memoryAfterGc(gc);
    const baselineRss = process.memoryUsage().rss;
    const upstreamBefore = upstreamRequests(mesh.istiods);

    const raw = openRawSession(mesh.proxyAddress);
    try {
      const call = rawAds(raw, mesh.istioctlToken);
      call.stream.pause(); // never reads: HTTP/2 flow control stops the proxy's writes
      for (let i = 0; i < REQUESTS; i++) call.stream.write(requestFrame(SYNCZ, [], { first: i === 0 }));

      expect(await waitFor(() => upstreamRequests(mesh.istiods) > upstreamBefore)).toBe(true);
      await sleep(1500); // ample time to fan out many more if requests were still taken
      const fannedOut = (upstreamRequests(mesh.istiods) - upstreamBefore) / mesh.istiods.length;
      const memoryGrowthMib = (memoryAfterGc(gc) - baselineMemory) / MIB;
      const rssGrowthMib = (process.memoryUsage().rss - baselineRss) / MIB;
      console.info(
        `stalled reader: ${REQUESTS} requests sent, ${fannedOut} fanned out, heap+buffers +${memoryGrowthMib.toFixed(1)} MiB, ` +
          `RSS +${rssGrowthMib.toFixed(1)} MiB ` +
          `(all answers: more than ${((REQUESTS * 2 * PADDING_PER_ISTIOD) / MIB).toFixed(0)} MiB)`,
      );
      expect(fannedOut).toBeGreaterThanOrEqual(1);
      expect(fannedOut).toBeLessThanOrEqual(2);
      expect(memoryGrowthMib).toBeLessThan(40);
      expect(rssGrowthMib).toBeLessThan(100);

      // Nothing is stuck: reading again lets the next requests through, one at a time (answering
      // all 100 only takes time: ~0.4 s each against the simulators).
      raw.session.setLocalWindowSize(16 * MIB);
      raw.session.settings({ initialWindowSize: 16 * MIB });
      call.stream.resume();
      expect(await waitFor(() => call.messages.length >= 5, 30_000)).toBe(true);
      for (const message of call.messages) expect(message.length).toBeGreaterThan(2 * PADDING_PER_ISTIOD);
      const answered = call.messages.length;
      expect(upstreamRequests(mesh.istiods) - upstreamBefore).toBeLessThanOrEqual((answered + 2) * mesh.istiods.length);
    } finally {
      raw.session.destroy();
      for (const istiod of mesh.istiods) istiod.knobs.paddingBytes = 0;
    }
    expect(await waitFor(() => mesh.proxy.app.get(AdsStreamService).openStreams === 0)).toBe(true);
  }, 60_000);

  it('the 101st request on one stream gets RESOURCE_EXHAUSTED naming MAX_REQUESTS_PER_STREAM (default 100); the first 100 are answered', async () => {
    const stream = mesh.client().openStream();
    try {
      for (let i = 0; i < 100; i++) {
        stream.send({ type_url: SYNCZ });
        expect(decodeClientConfigs(await stream.next({ typeUrl: SYNCZ, timeoutMs: 10_000 }))).toHaveLength(12);
      }
      const upstreamBefore = upstreamRequests(mesh.istiods);
      stream.send({ type_url: SYNCZ });
      const refused = (await stream.next({ timeoutMs: 10_000 }).catch((e: unknown) => e)) as XdsStatusError;
      expect(refused).toBeInstanceOf(XdsStatusError);
      expect(refused.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
      expect(refused.details).toContain('MAX_REQUESTS_PER_STREAM=100');
      expect(upstreamRequests(mesh.istiods)).toBe(upstreamBefore);
    } finally {
      stream.cancel();
    }
  }, 60_000);

  it(`remembers only the last MAX_REMEMBERED_NONCES (${MAX_REMEMBERED_NONCES}) nonces for ACKs: an ACK of an older one is answered as a new request`, async () => {
    const stream = mesh.client().openStream();
    try {
      const nonces: string[] = [];
      for (let i = 0; i < MAX_REMEMBERED_NONCES + 4; i++) {
        stream.send({ type_url: SYNCZ });
        nonces.push((await stream.next({ typeUrl: SYNCZ, timeoutMs: 10_000 })).nonce);
      }
      // An ACK of the latest answer: no fan-out, no answer.
      let upstreamBefore = upstreamRequests(mesh.istiods);
      stream.send({ type_url: SYNCZ, response_nonce: nonces.at(-1), version_info: 'v1' });
      await sleep(300);
      expect(upstreamRequests(mesh.istiods)).toBe(upstreamBefore);

      // The first nonce was forgotten: the "ACK" is a request like any other.
      upstreamBefore = upstreamRequests(mesh.istiods);
      stream.send({ type_url: SYNCZ, response_nonce: nonces[0], version_info: 'v1' });
      expect(decodeClientConfigs(await stream.next({ typeUrl: SYNCZ, timeoutMs: 10_000 }))).toHaveLength(12);
      expect(upstreamRequests(mesh.istiods)).toBe(upstreamBefore + mesh.istiods.length);
    } finally {
      stream.cancel();
    }
  });
});

describe('request size: MAX_REQUEST_BYTES (1 MiB) apart from MAX_MESSAGE_BYTES (answers)', () => {
  let mesh: MeshHarness;

  beforeAll(async () => {
    mesh = await startMesh({ istiods: buildDemoMesh() });
  });
  afterAll(async () => mesh?.stop());

  it('a 16 MiB request gets RESOURCE_EXHAUSTED from its length prefix, before its body is in, and reaches no istiod', async () => {
    const upstreamBefore = upstreamRequests(mesh.istiods);
    const request = requestFrame(CONFIG_DUMP, ['x'.repeat(16 * MIB)]);
    expect(request.length).toBeGreaterThan(16 * MIB);

    // Only the prefix and the first 64 KiB: the answer cannot wait for the rest.
    const raw = openRawSession(mesh.proxyAddress);
    try {
      const call = rawAds(raw, mesh.istioctlToken);
      call.stream.write(request.subarray(0, 64 * 1024));
      let timer: NodeJS.Timeout | undefined;
      const status = await Promise.race([
        call.status,
        new Promise<'no status'>((resolve) => (timer = setTimeout(() => resolve('no status'), 3000))),
      ]);
      clearTimeout(timer);
      expect(status).toMatchObject({ grpcStatus: grpc.status.RESOURCE_EXHAUSTED });
      expect(status !== 'no status' && status.grpcMessage).toContain(`vs ${MIB})`);
    } finally {
      raw.session.destroy();
    }

    // The whole 16 MiB from an istioctl-like client: the same answer.
    const error = (await mesh
      .client()
      .request(CONFIG_DUMP, ['x'.repeat(16 * MIB)], { timeoutMs: 10_000 })
      .catch((e: unknown) => e)) as XdsStatusError;
    expect(error).toBeInstanceOf(XdsStatusError);
    expect(error.code).toBe(grpc.status.RESOURCE_EXHAUSTED);

    expect(upstreamRequests(mesh.istiods)).toBe(upstreamBefore);
    const { response } = await mesh.client().request(SYNCZ);
    expect(decodeClientConfigs(response)).toHaveLength(12);
  });
});

describe('idle streams: STREAM_IDLE_TIMEOUT_MS frees the slots of streams left open', () => {
  const IDLE_MS = 800;
  let mesh: MeshHarness;

  beforeAll(async () => {
    mesh = await startMesh({
      istiods: buildDemoMesh(),
      env: { MAX_CONCURRENT_STREAMS: '4', STREAM_IDLE_TIMEOUT_MS: String(IDLE_MS) },
    });
  });
  afterAll(async () => mesh?.stop());

  it('4 idle streams (MAX_CONCURRENT_STREAMS=4) lock others out only until they have been idle that long, then end with OK', async () => {
    const client = mesh.client();
    const held: XdsStream[] = [];
    try {
      // Two answered and left open (istioctl before it exits), two that never send anything.
      for (let i = 0; i < 2; i++) {
        const stream = client.openStream();
        held.push(stream);
        stream.send({ type_url: SYNCZ });
        await stream.next({ typeUrl: SYNCZ, timeoutMs: 10_000 });
      }
      held.push(client.openStream(), client.openStream());
      expect(await waitFor(() => mesh.proxy.app.get(AdsStreamService).openStreams === 4)).toBe(true);

      const refused = (await client.request(SYNCZ, [], { timeoutMs: 5000 }).catch((e: unknown) => e)) as XdsStatusError;
      expect(refused.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
      expect(refused.details).toContain('MAX_CONCURRENT_STREAMS=4');

      const started = Date.now();
      let timer: NodeJS.Timeout | undefined;
      const ends = await Promise.race([
        Promise.all(held.map((stream) => stream.status)),
        new Promise<'still open'>((resolve) => (timer = setTimeout(() => resolve('still open'), 3 * IDLE_MS + 2000))),
      ]);
      clearTimeout(timer);
      expect(ends).not.toBe('still open');
      for (const end of ends as grpc.StatusObject[]) {
        expect(end.code).toBe(grpc.status.OK);
        expect(end.metadata.get(STREAM_ENDED_HEADER)).toEqual([`idle for STREAM_IDLE_TIMEOUT_MS=${IDLE_MS}`]);
      }
      expect(Date.now() - started).toBeLessThan(IDLE_MS + 1500);

      const { response } = await client.request(SYNCZ, [], { timeoutMs: 5000 });
      expect(decodeClientConfigs(response)).toHaveLength(12);
    } finally {
      for (const stream of held) stream.cancel();
    }
  });

  it('a request in flight longer than the idle timeout is answered, not cut', async () => {
    for (const istiod of mesh.istiods) istiod.knobs.delayMs = 2 * IDLE_MS;
    try {
      const { response } = await mesh.client().request(SYNCZ, [], { timeoutMs: 10_000 });
      expect(decodeClientConfigs(response)).toHaveLength(12);
    } finally {
      for (const istiod of mesh.istiods) istiod.knobs.delayMs = 0;
    }
  });
});

describe('behind a gateway: many streams on one HTTP/2 connection', () => {
  let mesh: MeshHarness;

  beforeAll(async () => {
    mesh = await startMesh({ istiods: buildDemoMesh(), env: { MAX_STREAMS_PER_CALLER: '1000' } });
  });
  afterAll(async () => mesh?.stop());

  it('3,000 requests, 30 at a time, on ONE connection, each stream reset by the client right after its answer: 0 errors, no GOAWAY', async () => {
    const TOTAL = 3000;
    const raw = openRawSession(mesh.proxyAddress);
    const failures: string[] = [];
    let answered = 0;
    let next = 0;
    const started = Date.now();
    try {
      const one = async () => {
        if (raw.session.closed || raw.session.destroyed) {
          failures.push(`connection closed (GOAWAY ${raw.goaways.join(',')})`);
          return;
        }
        const call = rawAds(raw, mesh.istioctlToken);
        call.stream.write(requestFrame(SYNCZ));
        let timer: NodeJS.Timeout | undefined;
        const first = await Promise.race([
          call.nextMessage(),
          call.ended.then((end) => `ended: status ${end.grpcStatus} rst ${end.rstCode} ${end.error?.message ?? ''}`),
          new Promise<string>((resolve) => (timer = setTimeout(() => resolve('no answer in 10 s'), 10_000))),
        ]);
        clearTimeout(timer);
        if (typeof first === 'string') {
          failures.push(first);
          return;
        }
        if (decodeClientConfigs(decodeResponse(first)).length !== 12) failures.push('short answer');
        answered++;
        // What Envoy does when the downstream istioctl goes away: RST_STREAM(CANCEL).
        call.stream.close(http2Constants.NGHTTP2_CANCEL);
      };
      await Promise.all(
        Array.from({ length: 30 }, async () => {
          while (next < TOTAL && failures.length < 50) {
            next++;
            await one();
          }
        }),
      );
    } finally {
      raw.session.close();
    }
    console.info(`gateway: ${answered} answers in ${Date.now() - started} ms on one connection, ${failures.length} failures`);
    expect(failures.slice(0, 3)).toEqual([]);
    expect(answered).toBe(TOTAL);
    expect(raw.goaways).toEqual([]);
    expect(raw.errors).toEqual([]);
  }, 120_000);
});

describe('behind a gateway: refusals are statuses, not resets', () => {
  let mesh: MeshHarness;

  beforeAll(async () => {
    mesh = await startMesh({ istiods: buildDemoMesh(), env: { MAX_CONCURRENT_STREAMS: '2' } });
  });
  afterAll(async () => mesh?.stop());

  it('streams refused by MAX_CONCURRENT_STREAMS get RESOURCE_EXHAUSTED statuses, never a connection-wide GOAWAY (2,000 on one connection)', async () => {
    const client = mesh.client();
    const holders = [client.openStream(), client.openStream()];
    const raw = openRawSession(mesh.proxyAddress);
    const codes = new Map<string, number>();
    let next = 0;
    try {
      expect(await waitFor(() => mesh.proxy.app.get(AdsStreamService).openStreams === 2)).toBe(true);
      await Promise.all(
        Array.from({ length: 50 }, async () => {
          while (next < 2000) {
            next++;
            const call = rawAds(raw, mesh.istioctlToken);
            call.stream.write(requestFrame(SYNCZ));
            let timer: NodeJS.Timeout | undefined;
            const status = await Promise.race([
              call.status.then((s) => String(s.grpcStatus)),
              call.ended.then((end) => `closed without status (rst ${end.rstCode})`),
              new Promise<string>((resolve) => (timer = setTimeout(() => resolve('nothing in 10 s'), 10_000))),
            ]);
            clearTimeout(timer);
            codes.set(status, (codes.get(status) ?? 0) + 1);
            call.stream.close(http2Constants.NGHTTP2_CANCEL);
          }
        }),
      );
    } finally {
      raw.session.close();
      for (const holder of holders) holder.cancel();
    }
    expect(Object.fromEntries(codes)).toEqual({ [String(grpc.status.RESOURCE_EXHAUSTED)]: 2000 });
    expect(raw.goaways).toEqual([]);
    expect(raw.errors).toEqual([]);
  }, 120_000);
});

describe('SIGTERM during a 3 s fan-out (node dist/main.js, PLAINTEXT): the answer is delivered and read, nothing is reset', () => {
  const run = useDemoWithMain();

  it('GOAWAY NO_ERROR, the full multi-MiB answer to a slow reader, the stream left to the client to close, exit 0', async () => {
    const { demo } = run;
    for (const istiod of demo.istiods) {
      istiod.knobs.delayMs = 3000;
      istiod.knobs.paddingBytes = 3 * MIB;
    }
    const main = await run.start({ FANOUT_TIMEOUT_MS: '10000', SHUTDOWN_TIMEOUT_MS: '40000' });
    const { child, grpcPort, exited } = main;

    // istioctl's window (grpc-go grows it to 16 MiB): the answer leaves the proxy at once and
    // waits in the client's buffers while it pauses, the case a server-side close would cut.
    const raw = openRawSession(`127.0.0.1:${grpcPort}`, { windowBytes: 16 * MIB });
    try {
      const call = rawAds(raw, readFileSync(demo.tokenFile, 'utf8'));
      call.stream.write(requestFrame(SYNCZ));
      expect(
        await waitFor(() => demo.istiods.every((istiod) => istiod.streams.length > 0 && istiod.streams.at(-1)!.requests.length > 0)),
      ).toBe(true);
      child.kill('SIGTERM');
      expect(await waitFor(() => main.output.includes('SIGTERM received'))).toBe(true);

      // A slow reader: it takes a break as soon as the answer starts coming.
      call.stream.once('data', () => {
        call.stream.pause();
        setTimeout(() => call.stream.resume(), 1000);
      });
      const first = await Promise.race([
        call.nextMessage(),
        call.ended.then((end) => `stream closed before the answer was read: rst ${end.rstCode}, ${end.error?.message ?? 'no error'}`),
      ]);
      expect(typeof first === 'string' ? first : 'answered', main.output).toBe('answered');
      const answer = decodeResponse(first as Buffer);
      expect(decodeClientConfigs(answer)).toHaveLength(12);
      expect(answer.resources.reduce((sum, r) => sum + r.value.length, 0)).toBeGreaterThan(6 * MIB);

      // istioctl prints before it exits: meanwhile nothing is reset, the proxy waits for us.
      await sleep(1000);
      expect(call.stream.closed).toBe(false);
      expect(call.stream.destroyed).toBe(false);
      expect(raw.errors, main.output).toEqual([]);
      expect(raw.goaways, main.output).toEqual([http2Constants.NGHTTP2_NO_ERROR]);
      expect(child.exitCode).toBeNull();

      // istioctl exits: its connection goes away, and so does the proxy.
      raw.session.destroy();
      const exitedAfterClose = Date.now();
      expect(await exitCodeWithin(exited, 5000)).toBe(0);
      expect(Date.now() - exitedAfterClose).toBeLessThan(3000);
      expect(main.output).not.toContain('SHUTDOWN_TIMEOUT_MS');
    } finally {
      raw.session.destroy();
    }
  }, 90_000);
});
