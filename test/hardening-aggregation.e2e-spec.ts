import { status } from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { decodeClientConfigs } from '../tools/cli/xds-decoders.js';
import { XdsStatusError } from '../tools/cli/xds-errors.js';
import { istioctlNode, type XdsClient } from '../tools/cli/xds-client.js';
import { buildDemoMesh } from '../tools/sim/mesh-fixtures.js';
import type { DiscoveryResponse, XdsNode } from '../src/common/xds-types.js';
import { InstanceHealth } from '../src/modules/aggregation/instance-health.js';
import { istiodPod } from './kit/istiod-pod.js';
import { KUBE_NS, startKubeMesh, type KubeMesh } from './kit/kube-mesh.js';
import { startMesh, type MeshHarness } from './kit/mesh-harness.js';
import { scrapeMetrics } from './kit/metrics-scrape.js';
import { eventually, waitFor } from './kit/wait-for.js';

const SYNCZ = 'istio.io/debug/syncz';
const MIB = 1024 * 1024;
/** The demo mesh's sidecars, as every caller outside a filtered namespace sees them. */
const DEMO_PROXIES = 12;

interface InstanceView {
  name: string;
  lastAnswerAt?: string;
  lastError?: string;
}

async function instancesOf(httpPort: number): Promise<InstanceView[]> {
  const res = await fetch(`http://127.0.0.1:${httpPort}/debug/instances`);
  return ((await res.json()) as { instances: InstanceView[] }).instances;
}

function failure(promise: Promise<unknown>): Promise<XdsStatusError> {
  return promise.then(
    () => {
      throw new Error('expected the request to fail');
    },
    (err: unknown) => err as XdsStatusError,
  );
}

/** One istioctl command: a stream, one request with the given node, the answer, then cancel. */
async function ask(client: XdsClient, node: XdsNode, typeUrl = SYNCZ): Promise<DiscoveryResponse> {
  const stream = client.openStream();
  try {
    stream.send({ type_url: typeUrl, node });
    return await stream.next({ typeUrl, timeoutMs: 15_000 });
  } finally {
    stream.cancel();
  }
}

/** istioctl's node with its metadata entries in the `n`th order, as Go's random map order would send them. */
function nodeInOrder(n: number): XdsNode {
  const node = istioctlNode();
  const entries = Object.entries(node.metadata?.fields ?? {});
  const ordered: typeof entries = [];
  const pool = [...entries];
  for (let rest = n; pool.length > 0; rest = Math.floor(rest / (pool.length + 1))) ordered.push(...pool.splice(rest % pool.length, 1));
  return { ...node, metadata: { fields: Object.fromEntries(ordered) } };
}

describe('metrics labels stay bounded (3 istiods)', () => {
  let mesh: MeshHarness;
  beforeAll(async () => (mesh = await startMesh({ istiods: buildDemoMesh() })));
  afterAll(async () => mesh?.stop());

  it('300 requests with made-up type URLs grow /metrics by less than 5 KB, all counted under type_url="other"', async () => {
    const client = mesh.client();
    const node = istioctlNode();
    await ask(client, node, 'made.up/warm-up'); // the first "other" series are created once
    const before = await scrapeMetrics(mesh.proxy.config.httpPort);
    for (let batch = 0; batch < 6; batch++) {
      await Promise.all(Array.from({ length: 50 }, (_, i) => ask(client, node, `made.up/${batch}/${i}/${Math.random()}`)));
    }
    const after = await scrapeMetrics(mesh.proxy.config.httpPort);
    const growth = after.text.length - before.text.length;
    console.log(`/metrics: ${before.text.length} -> ${after.text.length} bytes after 300 made-up type URLs`);
    expect(growth).toBeLessThan(5 * 1024);
    const other = { type_url: 'other', code: 'OK' };
    expect(after.value('istioctl_proxy_requests_total', other) - before.value('istioctl_proxy_requests_total', other)).toBe(300);
    expect(after.text).not.toContain('made.up');
  });

  it("istiod refusing the caller is counted apart and is not the instance's last error", async () => {
    await mesh.client().request(SYNCZ);
    const before = await scrapeMetrics(mesh.proxy.config.httpPort);
    // Verified by the proxy, but istiod refuses it: the node says istio-system/default.
    const intruder = await mesh.tokens.mint({ namespace: 'istio-system', serviceAccount: 'intruder' });
    const error = await failure(mesh.client({ token: intruder }).request(SYNCZ, [], { timeoutMs: 5000 }));
    expect(error.code).toBe(status.PERMISSION_DENIED);
    const after = await scrapeMetrics(mesh.proxy.config.httpPort);
    const delta = (name: string, labels?: Record<string, string>) => after.value(name, labels) - before.value(name, labels);
    expect(delta('istioctl_proxy_istiod_caller_denied_total', { reason: 'permission_denied' })).toBe(3);
    expect(delta('istioctl_proxy_istiod_errors_total')).toBe(0);
    for (const instance of await instancesOf(mesh.proxy.config.httpPort)) {
      expect(instance.lastError).toBeUndefined();
      expect(instance.lastAnswerAt).toBeDefined();
    }
  });
});

describe('a pod leaving discovery takes its series and state along (DISCOVERY=kubernetes)', () => {
  let mesh: KubeMesh;
  beforeAll(async () => {
    mesh = await startKubeMesh({ podIps: ['127.0.0.7', '127.0.0.8'], initialPods: 2, env: { AUTH_MODE: 'none' } });
  });
  afterAll(async () => mesh?.stop());

  /** How many pods answered a proxy-status (one sidecar each); 0 until discovery has synced. */
  const answeringPods = () =>
    mesh.client.request(SYNCZ, [], { timeoutMs: 5000 }).then(
      ({ response }) => decodeClientConfigs(response).length,
      () => 0,
    );

  it('removes every series labelled with the pod, its health record and its /debug/instances row', async () => {
    const gone = mesh.podName(1);
    expect(await eventually(answeringPods, (count) => count === 2)).toBe(2);
    mesh.istiods[1].knobs.notReady = true;
    await mesh.client.request(SYNCZ); // a partial answer: an istiod_errors_total series for the pod
    const httpPort = mesh.proxy.config.httpPort;
    const seriesOf = async (name: string) => (await scrapeMetrics(httpPort)).samples.filter((s) => s.labels.instance === name);
    expect((await seriesOf(gone)).map((s) => s.name)).toContain('istioctl_proxy_istiod_errors_total');

    mesh.kube.deletePod(KUBE_NS, gone);
    expect(await waitFor(async () => (await seriesOf(gone)).length === 0)).toBe(true);
    expect((await seriesOf(mesh.podName(0))).length).toBeGreaterThan(0);
    expect(mesh.proxy.app.get(InstanceHealth).get(gone)).toEqual({});
    expect((await instancesOf(httpPort)).map((i) => i.name)).toEqual([mesh.podName(0)]);

    mesh.istiods[1].knobs.notReady = false;
    mesh.kube.upsertPod(istiodPod({ name: gone, ip: mesh.podIps[1] }));
    expect(await eventually(answeringPods, (count) => count === 2)).toBe(2);
    expect((await seriesOf(gone)).map((s) => s.labels.outcome)).toContain('answer');
  });
});

describe('response cache bounded in bytes', () => {
  let mesh: MeshHarness;
  const ANSWER_PADDING = 256 * 1024;
  const CACHE_BYTES = 2 * MIB;
  beforeAll(async () => {
    mesh = await startMesh({
      istiods: buildDemoMesh(),
      env: { RESPONSE_CACHE_MS: '60000', RESPONSE_CACHE_MAX_BYTES: String(CACHE_BYTES) },
    });
    for (const istiod of mesh.istiods) istiod.knobs.paddingBytes = ANSWER_PADDING; // ~0.5 MB per merged answer
  });
  afterAll(async () => mesh?.stop());

  it('10 distinct answers never hold more than RESPONSE_CACHE_MAX_BYTES; the oldest are evicted, the newest reused', async () => {
    const client = mesh.client();
    const httpPort = mesh.proxy.config.httpPort;
    const cached = async () => (await scrapeMetrics(httpPort)).value('istioctl_proxy_response_cache_bytes');
    const request = async (version: string) => {
      const stream = client.openStream();
      try {
        stream.send({ type_url: SYNCZ, version_info: version });
        return await stream.next({ typeUrl: SYNCZ, timeoutMs: 10_000 });
      } finally {
        stream.cancel();
      }
    };
    const sizes: number[] = [];
    for (let i = 0; i < 10; i++) {
      await request(`v${i}`);
      sizes.push(await cached());
    }
    console.log(`response cache bytes after each of 10 answers: ${sizes.join(', ')} (bound ${CACHE_BYTES})`);
    for (const size of sizes) expect(size).toBeLessThanOrEqual(CACHE_BYTES);
    expect(sizes[0]).toBeGreaterThan(ANSWER_PADDING);
    const streams = () => mesh.istiods.reduce((sum, istiod) => sum + istiod.streams.length, 0);
    let before = streams();
    await request('v9');
    expect(streams() - before).toBe(0); // the newest answer: from the cache
    before = streams();
    await request('v0');
    expect(streams() - before).toBe(3); // the oldest was evicted: asked again
  });
});

describe('response cache frees expired answers without being asked (RESPONSE_CACHE_MS=300)', () => {
  let mesh: MeshHarness;
  beforeAll(async () => (mesh = await startMesh({ istiods: buildDemoMesh().slice(0, 1), env: { RESPONSE_CACHE_MS: '300' } })));
  afterAll(async () => mesh?.stop());

  it('drops to 0 bytes once the entry expired', async () => {
    await mesh.client().request(SYNCZ);
    const cached = async () => (await scrapeMetrics(mesh.proxy.config.httpPort)).value('istioctl_proxy_response_cache_bytes');
    expect(await cached()).toBeGreaterThan(0);
    expect(await waitFor(async () => (await cached()) === 0, 3000)).toBe(true);
  });
});

describe('coalescing is canonical (3 istiods answering in 1 s)', () => {
  let mesh: MeshHarness;
  beforeAll(async () => {
    mesh = await startMesh({ istiods: buildDemoMesh(), env: { MAX_STREAMS_PER_CALLER: '500', RESPONSE_CACHE_MS: '10000' } });
  });
  afterAll(async () => mesh?.stop());
  afterEach(() => mesh.istiods.forEach((istiod) => (istiod.knobs.delayMs = 0)));

  it('100 identical proxy-status requests of one caller, node.metadata in shuffled orders: 1 fan-out per istiod, 99 coalesced', async () => {
    for (const istiod of mesh.istiods) istiod.knobs.delayMs = 1000;
    const httpPort = mesh.proxy.config.httpPort;
    const coalesced = async () => (await scrapeMetrics(httpPort)).value('istioctl_proxy_coalesced_requests_total', { type_url: SYNCZ });
    const coalescedBefore = await coalesced();
    const before = mesh.istiods.map((istiod) => istiod.streams.length);
    const client = mesh.client();
    const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => ask(client, nodeInOrder(i))));
    const fanouts = mesh.istiods.map((istiod, i) => istiod.streams.length - before[i]);
    console.log(`fan-outs per istiod: ${fanouts.join(', ')}; coalesced: ${(await coalesced()) - coalescedBefore}`);
    expect(fanouts).toEqual([1, 1, 1]);
    expect((await coalesced()) - coalescedBefore).toBe(99);
    for (const response of answers) expect(decodeClientConfigs(response)).toHaveLength(DEMO_PROXIES);
    expect(new Set(answers.map((response) => response.nonce)).size).toBe(100);
  });
});

describe('memory budget for answers (MAX_INFLIGHT_ANSWER_BYTES)', () => {
  it('five callers asking for a 3 MB mesh with a 7 MiB budget all get complete answers, two fan-outs at a time', async () => {
    const mesh = await startMesh({ istiods: buildDemoMesh(), env: { MAX_INFLIGHT_ANSWER_BYTES: String(7 * MIB) } });
    try {
      for (const istiod of mesh.istiods) istiod.knobs.paddingBytes = MIB;
      await mesh.client().request(SYNCZ); // learns how large a syncz answer is
      for (const istiod of mesh.istiods) istiod.knobs.delayMs = 400;
      const httpPort = mesh.proxy.config.httpPort;
      const queued = async () => (await scrapeMetrics(httpPort)).value('istioctl_proxy_answer_budget_queued_total');
      const queuedBefore = await queued();
      const callers = await Promise.all(
        [1, 2, 3, 4, 5].map(async (n) => {
          const namespace = `team-${n}`;
          const token = await mesh.tokens.mint({ namespace, serviceAccount: 'default' });
          return mesh.client({ token, istioNamespace: namespace });
        }),
      );
      const started = Date.now();
      const answers = await Promise.all(callers.map((client) => client.request(SYNCZ, [], { timeoutMs: 20_000 })));
      const elapsed = Date.now() - started;
      console.log(`5 callers x ${answers[0].response.resources.length} proxies: ${elapsed} ms, ${(await queued()) - queuedBefore} queued`);
      for (const { response } of answers) expect(decodeClientConfigs(response)).toHaveLength(DEMO_PROXIES);
      expect((await queued()) - queuedBefore).toBeGreaterThanOrEqual(3);
      expect(elapsed).toBeGreaterThanOrEqual(1000); // three turns of 400 ms, not one
      expect((await scrapeMetrics(httpPort)).value('istioctl_proxy_answer_budget_reserved_bytes')).toBe(0);
    } finally {
      await mesh.stop();
    }
  });

  it('a fan-out waiting longer than ANSWER_BUDGET_WAIT_MS gets RESOURCE_EXHAUSTED naming the variables', async () => {
    const mesh = await startMesh({
      istiods: buildDemoMesh().slice(0, 1),
      env: { MAX_INFLIGHT_ANSWER_BYTES: String(4 * MIB), ANSWER_BUDGET_WAIT_MS: '300' },
    });
    try {
      const [istiod] = mesh.istiods;
      istiod.knobs.paddingBytes = 3 * MIB;
      await mesh.client().request(SYNCZ);
      istiod.knobs.delayMs = 1500;
      const before = istiod.streams.length;
      let holderDone = false;
      const holder = mesh
        .client()
        .request(SYNCZ, [], { timeoutMs: 10_000 })
        .finally(() => (holderDone = true));
      expect(await waitFor(() => istiod.streams.length > before)).toBe(true);
      const token = await mesh.tokens.mint({ namespace: 'team-late', serviceAccount: 'default' });
      const started = Date.now();
      const error = await failure(mesh.client({ token, istioNamespace: 'team-late' }).request(SYNCZ, [], { timeoutMs: 10_000 }));
      const waited = Date.now() - started;
      console.log(`refused after ${waited} ms: ${error.details}`);
      expect(error.code).toBe(status.RESOURCE_EXHAUSTED);
      expect(error.details).toContain('ANSWER_BUDGET_WAIT_MS');
      expect(error.details).toContain(`MAX_INFLIGHT_ANSWER_BYTES=${4 * MIB}`);
      expect(holderDone).toBe(false); // refused while the other fan-out still held the memory
      expect(decodeClientConfigs((await holder).response).length).toBeGreaterThan(0);
      const rejected = (await scrapeMetrics(mesh.proxy.config.httpPort)).value('istioctl_proxy_answer_budget_rejected_total', {
        reason: 'timeout',
      });
      expect(rejected).toBe(1);
    } finally {
      await mesh.stop();
    }
  });
});

describe('AUTH_MODE=none keys callers by token (MAX_STREAMS_PER_CALLER=2)', () => {
  let mesh: MeshHarness;
  beforeAll(async () => {
    mesh = await startMesh({ istiods: buildDemoMesh().slice(0, 2), env: { AUTH_MODE: 'none', MAX_STREAMS_PER_CALLER: '2' } });
  });
  afterAll(async () => mesh?.stop());

  it('five distinct tokens with one open stream each are all served; one token is still limited to 2 streams', async () => {
    const clients = await Promise.all(
      [1, 2, 3, 4, 5].map(async (n) => {
        const namespace = `team-${n}`;
        return mesh.client({ token: await mesh.tokens.mint({ namespace, serviceAccount: 'default' }), istioNamespace: namespace });
      }),
    );
    const streams = clients.map((client) => client.openStream());
    try {
      for (const stream of streams) stream.send({ type_url: SYNCZ });
      const answers = await Promise.all(streams.map((stream) => stream.next({ typeUrl: SYNCZ, timeoutMs: 5000 })));
      for (const response of answers) expect(response.type_url).toBe(SYNCZ);

      const second = clients[0].openStream();
      streams.push(second);
      second.send({ type_url: SYNCZ });
      await second.next({ timeoutMs: 5000 });
      // The slot is taken when the stream opens, so the refusal may come before any request.
      const third = clients[0].openStream();
      streams.push(third);
      const error = (await third.next({ timeoutMs: 5000 }).catch((e: unknown) => e)) as XdsStatusError;
      expect(error.code).toBe(status.RESOURCE_EXHAUSTED);
      expect(error.details).toContain('MAX_STREAMS_PER_CALLER=2');
      expect(error.details).toMatch(/unverified token \S+/);
    } finally {
      for (const stream of streams) stream.cancel();
    }
  });

  it("a token istiod rejects (UNAUTHENTICATED) is the caller's problem, not the istiods'", async () => {
    const before = await scrapeMetrics(mesh.proxy.config.httpPort);
    const error = await failure(mesh.client({ token: 'garbage.not-a-jwt.Zm9v' }).request(SYNCZ, [], { timeoutMs: 5000 }));
    expect(error.code).toBe(status.UNAUTHENTICATED);
    const after = await scrapeMetrics(mesh.proxy.config.httpPort);
    const denied = { reason: 'unauthenticated' };
    expect(
      after.value('istioctl_proxy_istiod_caller_denied_total', denied) - before.value('istioctl_proxy_istiod_caller_denied_total', denied),
    ).toBe(2);
    expect(after.value('istioctl_proxy_istiod_errors_total') - before.value('istioctl_proxy_istiod_errors_total')).toBe(0);
    for (const instance of await instancesOf(mesh.proxy.config.httpPort)) expect(instance.lastError).toBeUndefined();
  });
});
