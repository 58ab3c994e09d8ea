import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeClientConfigs } from '../tools/cli/xds-decoders.js';
import { XdsStatusError } from '../tools/cli/xds-errors.js';
import { ADS_SERVICE } from '../src/common/proto.js';
import { LifecycleService } from '../src/modules/lifecycle/lifecycle.service.js';
import { buildDemoMesh } from '../tools/sim/mesh-fixtures.js';
import { createTokenIssuer } from './kit/test-tokens.js';
import { grpcHealthCheck } from './kit/grpc-health-client.js';
import { captureLogs, type LogCapture } from './kit/log-capture.js';
import { startMesh, type MeshHarness } from './kit/mesh-harness.js';
import { scrapeMetrics } from './kit/metrics-scrape.js';
import { waitFor } from './kit/wait-for.js';

const SYNCZ = 'istio.io/debug/syncz';
const CONFIG_DUMP = 'istio.io/debug/config_dump';
const ISTIOCTL_CALLER = 'system:serviceaccount:istio-system:default';
const GARBAGE_TOKEN = 'garbage.not-a-jwt.Zm9vYmFyYmF6cXV4';

interface InstanceView {
  name: string;
  channelState: string;
  lastAnswerAt?: string;
  lastLatencyMs?: number;
  lastErrorAt?: string;
  lastError?: string;
}

async function getJson(port: number, path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function instancesOf(mesh: MeshHarness): Promise<InstanceView[]> {
  const { body } = await getJson(mesh.proxy.config.httpPort, '/debug/instances');
  return body.instances as InstanceView[];
}

function failure(promise: Promise<unknown>): Promise<XdsStatusError> {
  return promise.then(
    () => {
      throw new Error('expected the request to fail');
    },
    (err: unknown) => err as XdsStatusError,
  );
}

describe('operations: health, debug, metrics, logs, coalescing (3 istiods)', () => {
  let mesh: MeshHarness;
  let logs: LogCapture;
  let httpPort: number;

  beforeAll(async () => {
    logs = captureLogs();
    // 100 concurrent identical streams from one caller: above the default per-caller limit of 100
    // once earlier tests' cancelled streams are still being torn down.
    mesh = await startMesh({ istiods: buildDemoMesh(), logger: logs.logger, env: { MAX_STREAMS_PER_CALLER: '500' } });
    httpPort = mesh.proxy.config.httpPort;
  });
  afterAll(async () => mesh?.stop());

  it('GET /healthz is 200 with the process up', async () => {
    const { status: code, body } = await getJson(httpPort, '/healthz');
    expect(code).toBe(200);
    expect(body).toMatchObject({ status: 'ok', info: { process: { status: 'up' } } });
  });

  it('GET /readyz is 200 naming discovery (3 ready), auth mode and shutdown state', async () => {
    const { status: code, body } = await getJson(httpPort, '/readyz');
    expect(code).toBe(200);
    expect(body).toMatchObject({
      status: 'ok',
      info: { shutdown: { status: 'up' }, discovery: { status: 'up', ready: 3 }, auth: { status: 'up', mode: 'jwks' } },
    });
  });

  it('grpc.health.v1 Check is SERVING for "" and for the ADS service; unknown services are NOT_FOUND', async () => {
    expect(await grpcHealthCheck(mesh.proxyAddress, '')).toBe('SERVING');
    expect(await grpcHealthCheck(mesh.proxyAddress, ADS_SERVICE)).toBe('SERVING');
    await expect(grpcHealthCheck(mesh.proxyAddress, 'no.such.Service')).rejects.toMatchObject({ code: status.NOT_FOUND });
  });

  it('GET /debug/instances shows each instance with lastAnswerAt/lastLatencyMs, and lastError for a failing one', async () => {
    const before = Date.now();
    await mesh.client().request(SYNCZ);
    const answered = await instancesOf(mesh);
    expect(answered.map((i) => i.name)).toEqual(mesh.istiods.map((i) => i.podName).sort());
    for (const instance of answered) {
      expect(Date.parse(instance.lastAnswerAt!)).toBeGreaterThanOrEqual(before - 1000);
      expect(instance.lastLatencyMs).toBeGreaterThanOrEqual(0);
      expect(instance.lastLatencyMs).toBeLessThan(3000);
      expect(instance.lastError).toBeUndefined();
      expect(instance.channelState).toBe('READY');
    }

    const failing = mesh.istiods[1];
    failing.knobs.notReady = true;
    try {
      const { headers } = await mesh.client().request(SYNCZ);
      expect(headers['x-istioctl-proxy-missing']).toBe(failing.podName);
    } finally {
      failing.knobs.notReady = false;
    }
    const after = await instancesOf(mesh);
    const bad = after.find((i) => i.name === failing.podName)!;
    expect(bad.lastError).toBe('unavailable: server is not ready to serve discovery information');
    expect(Date.parse(bad.lastErrorAt!)).toBeGreaterThanOrEqual(before - 1000);
    expect(bad.lastAnswerAt).toBe(answered.find((i) => i.name === failing.podName)!.lastAnswerAt); // unchanged
    for (const ok of after.filter((i) => i.name !== failing.podName)) expect(ok.lastError).toBeUndefined();
  });

  it('/metrics counts requests, fan-outs, per-istiod errors, partial answers, instances, streams, tokens and process stats', async () => {
    const before = await scrapeMetrics(httpPort);
    const client = mesh.client();
    for (let i = 0; i < 3; i++) await client.request(SYNCZ);
    await client.request(CONFIG_DUMP, ['nobody.nowhere']);
    const partial = mesh.istiods[2];
    partial.knobs.notReady = true;
    try {
      await client.request(SYNCZ);
    } finally {
      partial.knobs.notReady = false;
    }
    for (const istiod of mesh.istiods) istiod.knobs.notReady = true;
    const allFailed = await failure(client.request(SYNCZ, [], { timeoutMs: 5000 })).finally(() => {
      for (const istiod of mesh.istiods) istiod.knobs.notReady = false;
    });
    expect(allFailed.code).toBe(status.UNAVAILABLE);
    const rejected = await failure(mesh.client({ token: GARBAGE_TOKEN }).request(SYNCZ, [], { timeoutMs: 5000 }));
    expect(rejected.code).toBe(status.UNAUTHENTICATED);

    // The last stream's cancellation reaches the proxy asynchronously.
    expect(await waitFor(async () => (await scrapeMetrics(httpPort)).value('istioctl_proxy_open_streams') === 0)).toBe(true);
    const after = await scrapeMetrics(httpPort);
    const delta = (name: string, labels?: Record<string, string>) => after.value(name, labels) - before.value(name, labels);

    expect(delta('istioctl_proxy_requests_total', { type_url: SYNCZ, code: 'OK' })).toBe(4);
    expect(delta('istioctl_proxy_requests_total', { type_url: CONFIG_DUMP, code: 'OK' })).toBe(1);
    expect(delta('istioctl_proxy_requests_total', { type_url: SYNCZ, code: 'UNAVAILABLE' })).toBe(1);
    expect(delta('istioctl_proxy_fanout_duration_seconds_count', { type_url: SYNCZ })).toBe(5);
    expect(delta('istioctl_proxy_fanout_duration_seconds_bucket', { type_url: SYNCZ, le: '+Inf' })).toBe(5);
    expect(delta('istioctl_proxy_fanout_duration_seconds_sum', { type_url: SYNCZ })).toBeGreaterThan(0);
    expect(delta('istioctl_proxy_fanout_duration_seconds_sum', { type_url: SYNCZ })).toBeLessThan(5 * 3);
    expect(delta('istioctl_proxy_istiod_errors_total', { instance: partial.podName, reason: 'unavailable' })).toBe(2);
    for (const other of mesh.istiods.filter((i) => i !== partial)) {
      expect(delta('istioctl_proxy_istiod_errors_total', { instance: other.podName, reason: 'unavailable' })).toBe(1);
    }
    expect(delta('istioctl_proxy_istiod_request_duration_seconds_count', { instance: partial.podName, outcome: 'answer' })).toBe(4);
    expect(delta('istioctl_proxy_partial_answers_total', { type_url: SYNCZ })).toBe(1);
    expect(after.value('istioctl_proxy_istiod_instances', { state: 'ready' })).toBe(3);
    expect(after.value('istioctl_proxy_open_streams')).toBe(0);
    // One verification per stream: 6 accepted (4 syncz OK + config_dump + all-failed), one garbage token.
    expect(delta('istioctl_proxy_token_verifications_total', { mode: 'jwks', result: 'ok' })).toBe(6);
    expect(delta('istioctl_proxy_token_verifications_total', { mode: 'jwks', result: 'unauthenticated' })).toBe(1);

    // Default process metrics, with our prefix, and plausible values.
    expect(after.value('istioctl_proxy_process_resident_memory_bytes')).toBeGreaterThan(10 * 1024 * 1024);
    expect(after.value('istioctl_proxy_nodejs_heap_size_used_bytes')).toBeGreaterThan(1024 * 1024);
    expect(after.value('istioctl_proxy_process_cpu_user_seconds_total')).toBeGreaterThan(0);
    const startTime = after.value('istioctl_proxy_process_start_time_seconds');
    expect(startTime).toBeGreaterThan(Date.now() / 1000 - 3600);
    expect(startTime).toBeLessThanOrEqual(Date.now() / 1000);
    expect(after.has('istioctl_proxy_nodejs_eventloop_lag_seconds')).toBe(true);
  });

  it('logs one JSON "istioctl request" line per request with caller, type, instances and duration', async () => {
    const seen = logs.withMessage('istioctl request').length;
    const client = mesh.client();
    await client.request(SYNCZ);
    await client.request(CONFIG_DUMP, ['ratings-v1.bookinfo']);
    mesh.istiods[0].knobs.notReady = true;
    try {
      await client.request(SYNCZ);
    } finally {
      mesh.istiods[0].knobs.notReady = false;
    }
    const lines = logs.withMessage('istioctl request').slice(seen);
    expect(lines).toHaveLength(3);
    const names = mesh.istiods.map((i) => i.podName).sort();
    for (const line of lines) {
      expect(line).toMatchObject({
        level: 'info',
        context: 'Requests',
        service: 'istioctl-proxy',
        caller: ISTIOCTL_CALLER,
        code: 'OK',
        instances_asked: 3,
      });
      expect(typeof line.duration_ms).toBe('number');
      expect(line.duration_ms as number).toBeGreaterThanOrEqual(0);
      expect(Date.parse(line.time as string)).not.toBeNaN();
    }
    expect(lines[0]).toMatchObject({ type_url: SYNCZ, resource_names: [], instances_answered: names, instances_failed: [] });
    expect(lines[1]).toMatchObject({ type_url: CONFIG_DUMP, resource_names: ['ratings-v1.bookinfo'] });
    const down = mesh.istiods[0].podName;
    expect(lines[2]).toMatchObject({ type_url: SYNCZ, instances_answered: names.filter((n) => n !== down), instances_failed: [down] });
  });

  it('never logs a caller token, accepted or rejected', async () => {
    const otherIssuer = await createTokenIssuer();
    const foreign = await otherIssuer.mint({ namespace: 'istio-system', serviceAccount: 'default' });
    await failure(mesh.client({ token: GARBAGE_TOKEN }).request(SYNCZ, [], { timeoutMs: 5000 }));
    const wrongKey = await failure(mesh.client({ token: foreign }).request(SYNCZ, [], { timeoutMs: 5000 }));
    expect(wrongKey.code).toBe(status.UNAUTHENTICATED);
    await mesh.client().request(SYNCZ);
    const all = logs.raw.join('');
    expect(logs.lines().some((line) => line.context === 'Auth' && String(line.msg).startsWith('rejected a call'))).toBe(true);
    for (const token of [mesh.istioctlToken, GARBAGE_TOKEN, foreign]) {
      expect(all).not.toContain(token);
      for (const part of token.split('.')) expect(all).not.toContain(part); // nor any of its segments
    }
    expect(all).not.toMatch(/Bearer/i);
  });

  it('100 identical concurrent requests from one caller share fan-outs (≤ 2 streams per istiod)', async () => {
    for (const istiod of mesh.istiods) istiod.knobs.delayMs = 400;
    try {
      const before = mesh.istiods.map((i) => i.streams.length);
      const coalescedBefore = (await scrapeMetrics(httpPort)).value('istioctl_proxy_coalesced_requests_total', { type_url: SYNCZ });
      const logged = logs.withMessage('istioctl request').length;
      const client = mesh.client();
      const started = Date.now();
      const results = await Promise.all(Array.from({ length: 100 }, () => client.request(SYNCZ, [], { timeoutMs: 10_000 })));
      const elapsed = Date.now() - started;
      const upstream = mesh.istiods.map((istiod, i) => istiod.streams.length - before[i]);
      for (const count of upstream) {
        expect(count).toBeGreaterThanOrEqual(1);
        expect(count).toBeLessThanOrEqual(2);
      }
      expect(elapsed).toBeLessThan(5000);
      // Every caller got the whole mesh and its own nonce.
      for (const { response } of results) expect(decodeClientConfigs(response)).toHaveLength(12);
      expect(new Set(results.map(({ response }) => response.nonce)).size).toBe(100);
      const coalesced =
        (await scrapeMetrics(httpPort)).value('istioctl_proxy_coalesced_requests_total', { type_url: SYNCZ }) - coalescedBefore;
      expect(coalesced).toBeGreaterThanOrEqual(98);
      expect(coalesced).toBe(100 - upstream[0]);
      const lines = logs.withMessage('istioctl request').slice(logged);
      expect(lines).toHaveLength(100);
      expect(lines.filter((line) => line.coalesced === true)).toHaveLength(coalesced);
    } finally {
      for (const istiod of mesh.istiods) istiod.knobs.delayMs = 0;
    }
  });

  it('never shares a fan-out between callers: an identical request by another caller gets its own answer', async () => {
    for (const istiod of mesh.istiods) istiod.knobs.delayMs = 500;
    try {
      const before = mesh.istiods.map((i) => i.streams.length);
      // Same node, another ServiceAccount: istiod refuses it (the node says SA default), so a shared
      // fan-out would hand this caller the other caller's answer.
      const intruder = await mesh.tokens.mint({ namespace: 'istio-system', serviceAccount: 'intruder' });
      const owner = mesh.client();
      const ownerAnswers = Array.from({ length: 10 }, () => owner.request(SYNCZ, [], { timeoutMs: 10_000 }));
      // Wait until the owner's fan-out is on the wire, then ask the identical thing as the intruder.
      expect(await waitFor(() => mesh.istiods.every((istiod, i) => istiod.streams.length > before[i]))).toBe(true);
      const other = mesh.client({ token: intruder });
      const intruderAnswers = Array.from({ length: 10 }, () => failure(other.request(SYNCZ, [], { timeoutMs: 10_000 })));
      for (const { response } of await Promise.all(ownerAnswers)) expect(decodeClientConfigs(response)).toHaveLength(12);
      for (const error of await Promise.all(intruderAnswers)) {
        expect(error.code).toBe(status.PERMISSION_DENIED);
        expect(error.details).toContain('authorization failed');
      }
      for (const [i, istiod] of mesh.istiods.entries()) {
        const fresh = istiod.streams.slice(before[i]);
        const byOwner = fresh.filter((s) => s.metadata.authorization === `Bearer ${mesh.istioctlToken}`).length;
        const byIntruder = fresh.filter((s) => s.metadata.authorization === `Bearer ${intruder}`).length;
        expect(byOwner).toBe(1);
        expect(byIntruder).toBeGreaterThanOrEqual(1);
        expect(byIntruder).toBeLessThanOrEqual(2);
      }
    } finally {
      for (const istiod of mesh.istiods) istiod.knobs.delayMs = 0;
    }
  });
});

describe('MAX_STREAMS_PER_CALLER=2', () => {
  let mesh: MeshHarness;

  beforeAll(async () => {
    mesh = await startMesh({ istiods: buildDemoMesh().slice(0, 1), env: { MAX_STREAMS_PER_CALLER: '2' } });
  });
  afterAll(async () => mesh?.stop());

  it("refuses one caller's 3rd open stream with RESOURCE_EXHAUSTED naming the variable; other callers are unaffected", async () => {
    const client = mesh.client();
    const open = [client.openStream(), client.openStream()];
    try {
      for (const stream of open) {
        stream.send({ type_url: SYNCZ });
        await stream.next({ timeoutMs: 5000 });
      }
      const third = client.openStream();
      third.send({ type_url: SYNCZ });
      const error = (await third.next({ timeoutMs: 5000 }).catch((e: unknown) => e)) as XdsStatusError;
      expect(error).toBeInstanceOf(XdsStatusError);
      expect(error.code).toBe(status.RESOURCE_EXHAUSTED);
      expect(error.details).toContain('MAX_STREAMS_PER_CALLER=2');
      expect(error.details).toContain(ISTIOCTL_CALLER);

      const otherToken = await mesh.tokens.mint({ namespace: 'bookinfo', serviceAccount: 'default' });
      const { response } = await mesh.client({ token: otherToken, istioNamespace: 'bookinfo' }).request(SYNCZ);
      expect(response.type_url).toBe(SYNCZ);
      // The open streams still work.
      open[0].send({ type_url: SYNCZ });
      expect((await open[0].next({ timeoutMs: 5000 })).type_url).toBe(SYNCZ);
    } finally {
      for (const stream of open) stream.cancel();
    }
    // Slots come back once streams close.
    let answered = false;
    for (let attempt = 0; attempt < 50 && !answered; attempt++) {
      answered = await client.request(SYNCZ, [], { timeoutMs: 5000 }).then(
        () => true,
        async () => (await new Promise((resolve) => setTimeout(resolve, 20)), false),
      );
    }
    expect(answered).toBe(true);
  });
});

describe('shutdown (beginShutdown, as on SIGTERM)', () => {
  let mesh: MeshHarness;

  beforeAll(async () => {
    mesh = await startMesh({ istiods: buildDemoMesh().slice(0, 1) });
  });
  afterAll(async () => mesh?.stop());

  it('turns /readyz 503 naming shutdown, gRPC health NOT_SERVING, and refuses new streams with UNAVAILABLE', async () => {
    const httpPort = mesh.proxy.config.httpPort;
    expect((await getJson(httpPort, '/readyz')).status).toBe(200);
    const open = mesh.client().openStream();
    open.send({ type_url: SYNCZ });
    await open.next({ timeoutMs: 5000 });

    mesh.proxy.app.get(LifecycleService).beginShutdown();

    const { status: code, body } = await getJson(httpPort, '/readyz');
    expect(code).toBe(503);
    expect(body).toMatchObject({ status: 'error', error: { shutdown: { status: 'down', reason: 'shutting down' } } });
    expect(body.info).toMatchObject({ discovery: { status: 'up' } });
    expect((await getJson(httpPort, '/healthz')).status).toBe(200); // liveness is unaffected
    expect(await grpcHealthCheck(mesh.proxyAddress, '')).toBe('NOT_SERVING');
    expect(await grpcHealthCheck(mesh.proxyAddress, ADS_SERVICE)).toBe('NOT_SERVING');

    const error = await failure(mesh.client().request(SYNCZ, [], { timeoutMs: 5000 }));
    expect(error.code).toBe(status.UNAVAILABLE);
    expect(error.details).toContain('shutting down');
    open.cancel();
  });
});

describe('READY_REQUIRES_REACHABLE=true', () => {
  let mesh: MeshHarness;

  beforeAll(async () => {
    mesh = await startMesh({
      istiods: buildDemoMesh().slice(0, 2),
      env: { READY_REQUIRES_REACHABLE: 'true', READY_REACHABLE_WINDOW_MS: '1000' },
    });
  });
  afterAll(async () => mesh?.stop());

  it('is ready while an istiod connects, and 503 naming istiod once every istiod is gone', async () => {
    const httpPort = mesh.proxy.config.httpPort;
    const ready = await getJson(httpPort, '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ info: { istiod: { status: 'up' } } });
    expect((ready.body.info as { istiod: { reachable: string[] } }).istiod.reachable.length).toBeGreaterThan(0);

    await Promise.all(mesh.istiods.map((istiod) => istiod.stop()));
    await new Promise((resolve) => setTimeout(resolve, 1100)); // past READY_REACHABLE_WINDOW_MS
    const started = Date.now();
    const { status: code, body } = await getJson(httpPort, '/readyz');
    expect(code).toBe(503);
    expect(body).toMatchObject({ status: 'error', error: { istiod: { status: 'down' } } });
    expect((body.error as { istiod: { reason: string } }).istiod.reason).toContain('no istiod answered');
    expect(body.info).toMatchObject({ discovery: { status: 'up' }, shutdown: { status: 'up' } });
    expect(Date.now() - started).toBeLessThan(5000); // the probe is bounded
  });
});
