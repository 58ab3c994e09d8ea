import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { connect as http2Connect, type ClientHttp2Session } from 'node:http2';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { XdsClient } from '../tools/cli/xds-client.js';
import { decodeClientConfigs } from '../tools/cli/xds-decoders.js';
import { XdsStatusError } from '../tools/cli/xds-errors.js';
import { createCertificateAuthority } from '../src/modules/tls/pki.js';
import { AdsStreamService } from '../src/modules/aggregation/ads-stream.service.js';
import { LifecycleService } from '../src/modules/lifecycle/lifecycle.service.js';
import type { SimulatedProxy } from '../tools/sim/istiod-simulator.js';
import { buildDemoMesh, findPodOnThird } from '../tools/sim/mesh-fixtures.js';
import { captureLogs, type LogCapture } from './kit/log-capture.js';
import { ISTIOD_SERVER_NAME, startMesh, type MeshHarness } from './kit/mesh-harness.js';
import { scrapeMetrics } from './kit/metrics-scrape.js';
import { exitCodeWithin, useDemoWithMain } from './kit/demo-main-process.js';
import { waitFor } from './kit/wait-for.js';

const SYNCZ = 'istio.io/debug/syncz';
const CONFIG_DUMP = 'istio.io/debug/config_dump';
const DEBUG = 'istio.io/debug';
const ADS_PATH = '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources';
const MIB = 1024 * 1024;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function proxyOf(name: string): SimulatedProxy {
  return { id: `${name}-7c9d8-abcde.default`, namespace: 'default', istioVersion: '1.27.3' };
}

/** `global.gc` without restarting the worker with --expose-gc. */
function exposeGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

function heapAfterGc(gc: () => void): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

describe('faults: one hung, one reset, one foreign-TLS, one slow and one healthy istiod', () => {
  const FANOUT_TIMEOUT_MS = 1500;
  const SLOW_MS = 500;
  const names = {
    healthy: 'istiod-a-healthy',
    slow: 'istiod-b-slow',
    hung: 'istiod-c-hung',
    reset: 'istiod-d-reset',
    foreignTls: 'istiod-e-foreign-tls',
  };
  let mesh: MeshHarness;
  let logs: LogCapture;

  beforeAll(async () => {
    const foreignCa = await createCertificateAuthority('some other root');
    const foreignServing = await foreignCa.issue({ commonName: 'istiod', dnsNames: [ISTIOD_SERVER_NAME] });
    logs = captureLogs();
    mesh = await startMesh({
      istiods: [
        { podName: names.healthy, version: '1.27.3', proxies: [proxyOf('healthy')] },
        { podName: names.slow, version: '1.27.3', proxies: [proxyOf('slow')] },
        { podName: names.hung, version: '1.27.3', proxies: [proxyOf('hung')] },
        { podName: names.reset, version: '1.27.3', proxies: [proxyOf('reset')] },
        { podName: names.foreignTls, version: '1.27.3', proxies: [proxyOf('foreign')], tls: foreignServing },
      ],
      env: { FANOUT_TIMEOUT_MS: String(FANOUT_TIMEOUT_MS) },
      logger: logs.logger,
    });
    const [, slow, hung, reset] = mesh.istiods;
    slow.knobs.delayMs = SLOW_MS;
    hung.knobs.hang = true;
    reset.knobs.resetMidAnswer = true;
  });
  afterAll(async () => mesh?.stop());

  it('answers within the deadline with the healthy and slow data, names exactly the bad ones, counts and logs them', async () => {
    const before = await scrapeMetrics(mesh.proxy.config.httpPort);
    const logged = logs.lines().length;
    const started = Date.now();
    const { response, headers } = await mesh.client().request(SYNCZ, [], { timeoutMs: 10_000 });
    const elapsed = Date.now() - started;

    expect(elapsed).toBeGreaterThanOrEqual(FANOUT_TIMEOUT_MS - 50); // the hung one costs its deadline...
    expect(elapsed).toBeLessThan(FANOUT_TIMEOUT_MS + 1000); // ...and nothing more
    const ids = decodeClientConfigs(response)
      .map((c) => c.node?.id)
      .sort();
    expect(ids).toEqual([proxyOf('healthy').id, proxyOf('slow').id]);
    expect(headers['x-istioctl-proxy-missing'].split(',').sort()).toEqual([names.hung, names.reset, names.foreignTls]);

    const after = await scrapeMetrics(mesh.proxy.config.httpPort);
    const errors = (instance: string, reason: string) =>
      after.value('istioctl_proxy_istiod_errors_total', { instance, reason }) -
      before.value('istioctl_proxy_istiod_errors_total', { instance, reason });
    const anyErrors = (instance: string) =>
      after.value('istioctl_proxy_istiod_errors_total', { instance }) - before.value('istioctl_proxy_istiod_errors_total', { instance });
    expect(errors(names.hung, 'timeout')).toBe(1);
    expect(errors(names.reset, 'unavailable')).toBe(1);
    expect(errors(names.foreignTls, 'unavailable')).toBe(1);
    expect(anyErrors(names.healthy)).toBe(0);
    expect(anyErrors(names.slow)).toBe(0);
    expect(
      after.value('istioctl_proxy_partial_answers_total', { type_url: SYNCZ }) -
        before.value('istioctl_proxy_partial_answers_total', { type_url: SYNCZ }),
    ).toBe(1);
    const slowSeconds = after.value('istioctl_proxy_istiod_request_duration_seconds_sum', { instance: names.slow, outcome: 'answer' });
    expect(slowSeconds).toBeGreaterThanOrEqual((SLOW_MS - 50) / 1000);

    const lines = logs.lines().slice(logged);
    const request = lines.find((line) => line.msg === 'istioctl request')!;
    expect(request).toMatchObject({ type_url: SYNCZ, instances_asked: 5, instances_answered: [names.healthy, names.slow] });
    expect((request.instances_failed as string[]).sort()).toEqual([names.hung, names.reset, names.foreignTls]);
    const partial = lines.find((line) => line.level === 'warn' && String(line.msg).includes('partial answer'))!;
    expect(partial.msg).toContain('missing 3 of 5');
    expect(partial.msg).toContain(`${names.hung}: no answer within ${FANOUT_TIMEOUT_MS} ms`);
    expect(partial.msg).toContain(`${names.reset}: `);
    expect(partial.msg).toContain(`${names.foreignTls}: `);
    expect(partial.msg).not.toContain(names.healthy);
    expect(partial.msg).not.toContain(names.slow);
  });

  it('every request meets the same faults and still gets its partial answer in time', async () => {
    const client = mesh.client();
    // The faults are per stream (reset, hang) or per connection attempt (TLS), not a one-off.
    for (let i = 0; i < 2; i++) {
      const started = Date.now();
      const { headers } = await client.request(SYNCZ, [], { timeoutMs: 10_000 });
      expect(Date.now() - started).toBeLessThan(FANOUT_TIMEOUT_MS + 1000);
      expect(headers['x-istioctl-proxy-missing'].split(',').sort()).toEqual([names.hung, names.reset, names.foreignTls]);
    }
  });
});

describe('bad input and load against the proxy (3 healthy istiods)', () => {
  let mesh: MeshHarness;
  let gc: () => void;
  let baselineHeap = 0;
  const demo = buildDemoMesh();

  beforeAll(async () => {
    gc = exposeGc();
    mesh = await startMesh({
      istiods: demo,
      env: { MAX_MESSAGE_BYTES: String(4 * MIB), MAX_STREAMS_PER_CALLER: '1000' },
    });
    // Warm up (channels, JIT, token cache) before taking the baseline.
    const client = mesh.client();
    for (let i = 0; i < 20; i++) await client.request(SYNCZ);
    baselineHeap = heapAfterGc(gc);
  });
  afterAll(async () => mesh?.stop());

  const openStreamsGauge = async () => (await scrapeMetrics(mesh.proxy.config.httpPort)).value('istioctl_proxy_open_streams');
  const streamsHeld = () => mesh.proxy.app.get(AdsStreamService).openStreams;

  /** Writes `payload` as one framed gRPC message on a raw ADS call with a valid token; resolves with the status. */
  async function sendRaw(payload: Buffer): Promise<grpc.StatusObject> {
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${mesh.istioctlToken}`);
    const raw = new grpc.Client(mesh.proxyAddress, grpc.credentials.createInsecure());
    try {
      const call = raw.makeBidiStreamRequest<Buffer, Buffer>(
        ADS_PATH,
        (bytes: Buffer) => bytes,
        (data: Buffer) => data,
        metadata,
      );
      call.on('error', () => undefined);
      call.on('data', () => undefined);
      const final = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
      call.write(payload);
      return await final;
    } finally {
      raw.close();
    }
  }

  it('garbage bytes end the stream with INTERNAL (or INVALID_ARGUMENT if they happen to decode); the proxy keeps serving', async () => {
    // A field-1 tag with its length missing: protobufjs clamps over-long strings, but cannot read this.
    const undecodable = await sendRaw(Buffer.from([0x0a]));
    expect(undecodable).toMatchObject({ code: grpc.status.INTERNAL, details: 'Error deserializing request' });
    for (let i = 0; i < 20; i++) {
      // Random bytes sometimes decode into a request without a node.
      const { code } = await sendRaw(randomBytes(1 + (i % 4) * 1000));
      expect([grpc.status.INTERNAL, grpc.status.INVALID_ARGUMENT]).toContain(code);
    }
    const { response } = await mesh.client().request(SYNCZ);
    expect(decodeClientConfigs(response)).toHaveLength(12);
    expect(await waitFor(async () => (await openStreamsGauge()) === 0 && streamsHeld() === 0)).toBe(true);
  });

  it('a stream that never sends stays open without asking any istiod, and is released when cancelled', async () => {
    const upstreamBefore = mesh.istiods.map((i) => i.streams.length);
    const baseline = await openStreamsGauge();
    const silent = mesh.client().openStream();
    expect(await waitFor(async () => (await openStreamsGauge()) === baseline + 1)).toBe(true);
    await sleep(300);
    expect(await openStreamsGauge()).toBe(baseline + 1); // still open, not timed out or reset
    expect(mesh.istiods.map((i) => i.streams.length)).toEqual(upstreamBefore);
    expect(mesh.proxy.app.get(LifecycleService).inFlightRequests).toBe(0);
    silent.cancel();
    expect(await waitFor(async () => (await openStreamsGauge()) === baseline)).toBe(true);
    expect(streamsHeld()).toBe(baseline);
  });

  it('500 abandoned streams (cancelled before sending, or their connection dropped) are all released', async () => {
    const upstreamBefore = mesh.istiods.map((i) => i.streams.length);
    // 250 cancelled by well-behaved clients, some at once and some after the proxy accepted them.
    const clients = Array.from({ length: 5 }, () => mesh.client());
    const cancelled = Array.from({ length: 250 }, (_, i) => clients[i % clients.length].openStream());
    for (const stream of cancelled.slice(0, 125)) stream.cancel();
    await sleep(50);
    for (const stream of cancelled.slice(125)) stream.cancel();
    await Promise.all(cancelled.map((stream) => stream.status));

    // 250 on raw HTTP/2 connections that vanish (a killed istioctl): no RST_STREAM, just gone.
    const sessions: ClientHttp2Session[] = [];
    for (let s = 0; s < 5; s++) {
      const session = http2Connect(`http://${mesh.proxyAddress}`);
      session.on('error', () => undefined);
      sessions.push(session);
      for (let i = 0; i < 50; i++) {
        const stream = session.request({
          ':method': 'POST',
          ':path': ADS_PATH,
          'content-type': 'application/grpc',
          te: 'trailers',
          authorization: `Bearer ${mesh.istioctlToken}`,
        });
        stream.on('error', () => undefined);
      }
    }
    // Let the proxy accept and verify some of them before the connections drop.
    expect(await waitFor(() => streamsHeld() > 0, 5000)).toBe(true);
    for (const session of sessions) session.destroy();

    expect(await waitFor(async () => (await openStreamsGauge()) === 0 && streamsHeld() === 0, 10_000)).toBe(true);
    expect(mesh.istiods.map((i) => i.streams.length)).toEqual(upstreamBefore); // nothing was fanned out
    const { response } = await mesh.client().request(SYNCZ);
    expect(decodeClientConfigs(response)).toHaveLength(12);
  });

  it('a request above MAX_MESSAGE_BYTES (5 MiB name, limit 4 MiB) gets RESOURCE_EXHAUSTED', async () => {
    const upstreamBefore = mesh.istiods.map((i) => i.streams.length);
    const error = (await mesh
      .client()
      .request(CONFIG_DUMP, ['x'.repeat(5 * MIB)], { timeoutMs: 10_000 })
      .catch((e: unknown) => e)) as XdsStatusError;
    expect(error).toBeInstanceOf(XdsStatusError);
    expect(error.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(mesh.istiods.map((i) => i.streams.length)).toEqual(upstreamBefore);
    const { response } = await mesh.client().request(CONFIG_DUMP, [findPodOnThird(demo)]);
    expect(response.resources).toHaveLength(7);
  });

  it('heap returns near its baseline after the bad-input phase', async () => {
    expect(await waitFor(async () => (await openStreamsGauge()) === 0)).toBe(true);
    await sleep(100);
    const heap = heapAfterGc(gc);
    const deltaMb = (heap - baselineHeap) / MIB;
    console.info(
      `heap after bad input: ${(heap / MIB).toFixed(1)} MiB, baseline ${(baselineHeap / MIB).toFixed(1)} MiB, delta ${deltaMb.toFixed(1)} MiB`,
    );
    expect(deltaMb).toBeLessThan(20);
  });

  it('200 concurrent istioctl-style clients × 20 requests: no errors, bounded time', async () => {
    const CLIENTS = 200;
    const REQUESTS = 20;
    const namespaces = ['istio-system', 'bookinfo', 'default', 'team-a'];
    const tokens = await Promise.all(namespaces.map((namespace) => mesh.tokens.mint({ namespace, serviceAccount: 'default' })));
    // One connection per client, as each istioctl process has its own. grpc-js would otherwise put
    // every channel of this process on one shared connection, and Node's HTTP/2 server (nghttp2's
    // rapid-reset guard) sends GOAWAY after ~1000 RST_STREAMs on one connection in a burst -- and
    // istioctl ends every request with one. A distinct channel option keeps the subchannels apart.
    const channels = Array.from({ length: CLIENTS }, (_, c) => {
      const namespace = namespaces[c % namespaces.length];
      return {
        client: mesh.client({ token: tokens[c % namespaces.length], istioNamespace: namespace, maxMessageBytes: 2 ** 31 - 1 - c }),
        namespace,
      };
    });
    const pod = findPodOnThird(demo);
    const errors: unknown[] = [];
    const latencies: number[] = [];
    const firstLatencies: number[] = []; // each client's first request also dials its connection
    const started = Date.now();
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, c) => {
        const { client: channel, namespace } = channels[c];
        for (let r = 0; r < REQUESTS; r++) {
          const t0 = performance.now();
          try {
            // istiod serves `istio.io/debug` syncz only to callers from its own namespace.
            const kind = (c + r) % 3 === 2 && namespace !== 'istio-system' ? 0 : (c + r) % 3;
            if (kind === 0) {
              const { response } = await channel.request(SYNCZ, [], { timeoutMs: 30_000 });
              if (decodeClientConfigs(response).length !== 12) throw new Error('short syncz');
            } else if (kind === 1) {
              const { response } = await channel.request(CONFIG_DUMP, [pod], { timeoutMs: 30_000 });
              if (response.resources.length !== 7) throw new Error('short config_dump');
            } else {
              const { response } = await channel.request(DEBUG, ['syncz'], { timeoutMs: 30_000 });
              if (response.resources.length !== 1) throw new Error('short debug');
            }
          } catch (err) {
            errors.push(err);
          }
          (r === 0 ? firstLatencies : latencies).push(performance.now() - t0);
        }
      }),
    );
    const elapsed = Date.now() - started;
    const p = (values: number[], q: number) =>
      [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(q * values.length))].toFixed(0);
    console.info(
      `load: ${CLIENTS * REQUESTS} requests in ${elapsed} ms (${((CLIENTS * REQUESTS * 1000) / elapsed).toFixed(0)}/s), ` +
        `p50 ${p(latencies, 0.5)} ms, p99 ${p(latencies, 0.99)} ms; first request (with connect) p50 ${p(firstLatencies, 0.5)} ms, ` +
        `p99 ${p(firstLatencies, 0.99)} ms; ${errors.length} errors`,
    );
    expect(errors.slice(0, 3)).toEqual([]);
    expect(errors).toHaveLength(0);
    expect(elapsed).toBeLessThan(40_000);
    expect(await waitFor(async () => (await openStreamsGauge()) === 0)).toBe(true);
    await waitFor(() => mesh.istiods.every((istiod) => istiod.openStreams === 0));
    expect(mesh.istiods.map((istiod) => istiod.openStreams)).toEqual([0, 0, 0]);
    for (const { client } of channels) client.close();
    await sleep(100);
    const heapMb = (heapAfterGc(gc) - baselineHeap) / MIB;
    console.info(`heap after load: ${heapMb.toFixed(1)} MiB above baseline`);
    expect(heapMb).toBeLessThan(100);
  }, 60_000);
});

describe('SIGTERM during a slow fan-out (node dist/main.js)', () => {
  const run = useDemoWithMain();

  it('delivers the in-flight answer complete, refuses new streams, and exits 0', async () => {
    const { demo } = run;
    for (const istiod of demo.istiods) {
      istiod.knobs.delayMs = 1500;
      // A big answer (several MiB merged) still being written when the drain ends must not be cut off.
      istiod.knobs.paddingBytes = 4 * MIB;
    }
    const main = await run.start({ SHUTDOWN_TIMEOUT_MS: '10000' });
    const { child, grpcPort, httpPort, exited } = main;

    const token = readFileSync(demo.tokenFile, 'utf8');
    const address = `127.0.0.1:${grpcPort}`;
    const inFlightClient = new XdsClient({ address, plaintext: true, token });
    const lateClient = new XdsClient({ address, plaintext: true, token });
    try {
      const started = Date.now();
      const inFlight = inFlightClient.request(SYNCZ, [], { timeoutMs: 15_000 });
      inFlight.catch(() => undefined); // awaited below; do not let an early failure go unhandled
      // SIGTERM once every istiod has the request (the fan-out is in flight).
      expect(
        await waitFor(() => demo.istiods.every((istiod) => istiod.streams.length > 0 && istiod.streams.at(-1)!.requests.length > 0)),
      ).toBe(true);
      child.kill('SIGTERM');
      expect(await waitFor(() => main.output.includes('SIGTERM received'))).toBe(true);

      // A new connection during the drain: the stream is refused (readiness is already 503).
      const refused = (await lateClient.request(SYNCZ, [], { timeoutMs: 5000 }).catch((e: unknown) => e)) as XdsStatusError;
      expect(refused).toBeInstanceOf(XdsStatusError);
      expect(refused.code).toBe(grpc.status.UNAVAILABLE);
      expect(refused.details).toContain('shutting down');
      expect((await fetch(`http://127.0.0.1:${httpPort}/readyz`)).status).toBe(503);

      const { response, headers } = await inFlight;
      expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
      expect(decodeClientConfigs(response)).toHaveLength(12);
      expect(response.resources.reduce((sum, r) => sum + r.value.length, 0)).toBeGreaterThan(6 * MIB);
      expect(headers['x-istioctl-proxy-missing']).toBeUndefined();

      expect(await exitCodeWithin(exited, 12_000)).toBe(0);
      // After exit nothing listens: a new connection is refused outright.
      const afterExitClient = new XdsClient({ address, plaintext: true, token });
      const gone = (await afterExitClient.request(SYNCZ, [], { timeoutMs: 3000 }).catch((e: unknown) => e)) as XdsStatusError;
      afterExitClient.close();
      expect(gone.code).toBe(grpc.status.UNAVAILABLE);
    } finally {
      inFlightClient.close();
      lateClient.close();
    }
  }, 40_000);
});
