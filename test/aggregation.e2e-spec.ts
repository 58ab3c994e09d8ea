import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeClientConfigs, decodeConfigDump, controlPlaneInfo } from '../tools/cli/xds-decoders.js';
import { XdsStatusError } from '../tools/cli/xds-errors.js';
import { formatVersion } from '../tools/cli/format.js';
import { istioctlNode } from '../tools/cli/istioctl-node.js';
import { buildDemoMesh, findPodOnThird } from '../tools/sim/mesh-fixtures.js';
import { startMesh, type MeshHarness } from './kit/mesh-harness.js';
import { waitFor } from './kit/wait-for.js';

const SYNCZ = 'istio.io/debug/syncz';
const CONFIG_DUMP = 'istio.io/debug/config_dump';
const DEBUG = 'istio.io/debug';

describe('aggregation end to end (3 TLS istiods, real proxy, istioctl-style client)', () => {
  let mesh: MeshHarness;
  const demo = buildDemoMesh();

  beforeAll(async () => {
    mesh = await startMesh({ istiods: demo });
  });
  afterAll(async () => mesh?.stop());

  it('proxy-status lists every proxy of the mesh once, with its newest state, ISTIOD <external>', async () => {
    const { response } = await mesh.client().request(SYNCZ);
    const configs = decodeClientConfigs(response);
    const ids = configs.map((c) => c.node?.id);
    const expected = new Set(demo.flatMap((istiod) => (istiod.proxies ?? []).map((p) => p.id)));
    expect(ids.sort()).toEqual([...expected].sort());
    expect(controlPlaneInfo(response)).toMatchObject({ ID: '<external>' });
    // httpbin reconnected from the 3rd istiod to the 2nd: the live (2nd) copy, pushed 1 minute ago, wins.
    const httpbin = configs.find((c) => c.node?.id?.startsWith('httpbin'));
    const newest = Math.max(...(httpbin?.generic_xds_configs ?? []).map((g) => Number(g.last_updated?.seconds ?? 0)));
    expect(Date.now() / 1000 - newest).toBeLessThan(5 * 60);
  });

  it('x version shows mixed control plane versions joined, and every data plane version', async () => {
    const { response } = await mesh.client().request(SYNCZ);
    const info = controlPlaneInfo(response);
    expect(typeof info === 'object' && info.Info.version).toBe('1.26.1,1.27.3');
    const text = formatVersion(response, 'test');
    expect(text).toContain('control plane version: 1.26.1,1.27.3');
    expect(text).toMatch(/data plane version: .*1\.27\.3 \(\d+ proxies\)/);
  });

  it('proxy-status <pod> finds the config dump held only by the 3rd istiod', async () => {
    const pod = findPodOnThird(demo);
    const { response } = await mesh.client().request(CONFIG_DUMP, [pod]);
    const dump = decodeConfigDump(response);
    expect(dump.map((d) => d.typeUrl)).toContain('type.googleapis.com/envoy.admin.v3.ClustersConfigDump');
    expect(response.resources).toHaveLength(7);
    expect(controlPlaneInfo(response)).toMatchObject({ ID: '<external>' });
  });

  it('an unknown pod gets an empty OK answer (istioctl prints its own not-found)', async () => {
    const { response } = await mesh.client().request(CONFIG_DUMP, ['nope-1.nowhere']);
    expect(response.resources).toEqual([]);
  });

  it('forwards the first request node and the caller token to every istiod unchanged', async () => {
    const before = mesh.istiods.map((istiod) => istiod.streams.length);
    await mesh.client().request(SYNCZ);
    const node = istioctlNode('istio-system');
    mesh.istiods.forEach((istiod, i) => {
      const stream = istiod.streams[before[i]];
      expect(stream.metadata.authorization).toBe(`Bearer ${mesh.istioctlToken}`);
      expect(stream.node?.id).toBe(node.id);
      expect(stream.node?.metadata).toEqual(node.metadata);
      expect(stream.requests[0].response_nonce).not.toBe('');
      expect(stream.identity).toMatchObject({ namespace: 'istio-system', serviceAccount: 'default' });
    });
  });

  it('answers each request of a stream, and an ACK gets no answer and no fan-out', async () => {
    const stream = mesh.client().openStream();
    try {
      const before = mesh.istiods[0].streams.length;
      stream.send({ type_url: SYNCZ });
      const first = await stream.next({ timeoutMs: 5000 });
      expect(first.type_url).toBe(SYNCZ);
      stream.send({ type_url: SYNCZ, response_nonce: first.nonce, version_info: first.version_info }); // ACK
      stream.send({ type_url: DEBUG, resource_names: ['syncz'] });
      const second = await stream.next({ timeoutMs: 5000 });
      expect(second.type_url).toBe(DEBUG); // nothing was sent for the ACK
      expect(second.nonce).not.toBe(first.nonce);
      expect(mesh.istiods[0].streams.length - before).toBe(2);
    } finally {
      stream.cancel();
    }
  });

  it('internal-debug syncz is the union of every istiod', async () => {
    const { response } = await mesh.client().request(DEBUG, ['syncz']);
    const body = JSON.parse(Buffer.from(response.resources[0].value).toString()) as Array<{ proxy: string }>;
    const expected = new Set(demo.flatMap((istiod) => (istiod.proxies ?? []).map((p) => p.id)));
    expect(new Set(body.map((entry) => entry.proxy))).toEqual(expected);
  });

  it('rejects a first request without node id with INVALID_ARGUMENT', async () => {
    const stream = mesh.client().openStream();
    stream.send({ type_url: SYNCZ, node: null });
    const error = await stream.next({ timeoutMs: 5000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(XdsStatusError);
    expect(error).toMatchObject({ code: status.INVALID_ARGUMENT, details: 'missing node information' });
  });

  it('passes istiod PERMISSION_DENIED through when the token does not match the node', async () => {
    const token = await mesh.tokens.mint({ namespace: 'bookinfo', serviceAccount: 'reviews' });
    const error = await mesh
      .client({ token })
      .request(SYNCZ, [], { timeoutMs: 5000 })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: status.PERMISSION_DENIED });
    expect((error as XdsStatusError).details).toContain('authorization failed');
    for (const istiod of mesh.istiods) expect((error as XdsStatusError).details).toContain(istiod.podName);
  });

  it('closes every upstream stream after answering (100 requests leave none open)', async () => {
    const client = mesh.client();
    for (let i = 0; i < 100; i++) await client.request(i % 2 ? SYNCZ : CONFIG_DUMP, i % 2 ? [] : [findPodOnThird(demo)]);
    await waitFor(() => mesh.istiods.every((istiod) => istiod.openStreams === 0));
    expect(mesh.istiods.map((istiod) => istiod.openStreams)).toEqual([0, 0, 0]);
  });

  it('DeltaAggregatedResources is UNIMPLEMENTED with a hint', async () => {
    const { adsClientConstructor } = await import('../src/common/proto.js');
    const grpc = await import('@grpc/grpc-js');
    const Ctor = adsClientConstructor();
    const client = new Ctor(mesh.proxyAddress, grpc.credentials.createInsecure());
    const call = (
      client as unknown as { DeltaAggregatedResources(): import('@grpc/grpc-js').ClientDuplexStream<object, object> }
    ).DeltaAggregatedResources();
    call.on('error', () => undefined); // the status below carries the error
    const result = await new Promise<{ code: number; details: string }>((resolve) => call.on('status', resolve));
    expect(result.code).toBe(status.UNIMPLEMENTED);
    expect(result.details).toContain('StreamAggregatedResources');
    client.close();
  });
});

describe('aggregation with failing istiods', () => {
  let mesh: MeshHarness;
  const demo = buildDemoMesh();

  beforeAll(async () => {
    mesh = await startMesh({ istiods: demo, env: { FANOUT_TIMEOUT_MS: '800' } });
  });
  afterAll(async () => mesh?.stop());

  it('a hung istiod costs only its own deadline; the answer has the others and names it', async () => {
    mesh.istiods[1].knobs.hang = true;
    try {
      const started = Date.now();
      const stream = mesh.client().openStream();
      stream.send({ type_url: SYNCZ });
      const response = await stream.next({ timeoutMs: 10_000 });
      const headers = await stream.metadata;
      stream.cancel();
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(headers['x-istioctl-proxy-missing']).toBe(mesh.istiods[1].podName);
      const ids = decodeClientConfigs(response).map((c) => c.node?.id);
      expect(ids).toContain(demo[0].proxies![0].id);
      expect(ids).toContain(demo[2].proxies![1].id);
      expect(ids).not.toContain(demo[1].proxies![0].id);
    } finally {
      mesh.istiods[1].knobs.hang = false;
    }
  });

  it('a failing istiod (not ready) is reported in the metadata', async () => {
    mesh.istiods[2].knobs.notReady = true;
    try {
      const { response, headers } = await mesh.client().request(SYNCZ);
      expect(headers['x-istioctl-proxy-missing']).toBe(mesh.istiods[2].podName);
      expect(decodeClientConfigs(response).length).toBeGreaterThan(0);
    } finally {
      mesh.istiods[2].knobs.notReady = false;
    }
  });

  it('ends the stream cleanly when the client half-closes, with the missing instances in the trailers', async () => {
    const grpc = await import('@grpc/grpc-js');
    const { adsClientConstructor } = await import('../src/common/proto.js');
    mesh.istiods[2].knobs.notReady = true;
    const Ctor = adsClientConstructor();
    const client = new Ctor(mesh.proxyAddress, grpc.credentials.createInsecure());
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${mesh.istioctlToken}`);
    const call = (
      client as unknown as {
        StreamAggregatedResources(md: unknown): import('@grpc/grpc-js').ClientDuplexStream<object, { type_url: string }>;
      }
    ).StreamAggregatedResources(metadata);
    try {
      const final = new Promise<{ code: number; metadata: import('@grpc/grpc-js').Metadata }>((resolve) => call.on('status', resolve));
      call.on('error', () => undefined);
      const answered = new Promise((resolve) => call.once('data', resolve));
      call.write({ node: istioctlNode(), type_url: SYNCZ, response_nonce: 'now' });
      await answered;
      call.end(); // half-close: the proxy finishes and ends the call with OK
      const { code, metadata: trailers } = await final;
      expect(code).toBe(status.OK);
      expect(trailers.get('x-istioctl-proxy-missing')).toEqual([mesh.istiods[2].podName]);
    } finally {
      mesh.istiods[2].knobs.notReady = false;
      client.close();
    }
  });

  it('all istiods failing returns the first failure code with every reason', async () => {
    for (const istiod of mesh.istiods) istiod.knobs.notReady = true;
    try {
      const error = (await mesh
        .client()
        .request(SYNCZ, [], { timeoutMs: 5000 })
        .catch((e: unknown) => e)) as XdsStatusError;
      expect(error.code).toBe(status.UNAVAILABLE);
      expect(error.details).toContain('server is not ready to serve discovery information');
      for (const istiod of mesh.istiods) expect(error.details).toContain(istiod.podName);
      // instances are ordered by pod name, not by configuration order
      expect(error.metadata.get('x-istioctl-proxy-missing')[0]).toBe(
        mesh.istiods
          .map((i) => i.podName)
          .sort()
          .join(','),
      );
    } finally {
      for (const istiod of mesh.istiods) istiod.knobs.notReady = false;
    }
  });
});

// Its own mesh with the default FANOUT_TIMEOUT_MS: encoding 20 MB on a loaded 2-core machine can take
// longer than the 800 ms the failing-istiod cases use to keep their deadlines short.
describe('large answers', () => {
  let mesh: MeshHarness;

  beforeAll(async () => {
    mesh = await startMesh({ istiods: buildDemoMesh() });
  });
  afterAll(async () => mesh?.stop());

  it('a 20 MB answer passes through intact', async () => {
    mesh.istiods[0].knobs.paddingBytes = 20 * 1024 * 1024;
    try {
      const { response } = await mesh.client().request(SYNCZ, [], { timeoutMs: 20_000 });
      const bytes = response.resources.reduce((sum, r) => sum + r.value.length, 0);
      expect(bytes).toBeGreaterThan(20 * 1024 * 1024);
      expect(decodeClientConfigs(response).length).toBeGreaterThan(0);
    } finally {
      mesh.istiods[0].knobs.paddingBytes = 0;
    }
  });
});

describe('PARTIAL_RESULTS=deny', () => {
  let mesh: MeshHarness;

  beforeAll(async () => {
    mesh = await startMesh({ istiods: buildDemoMesh(), env: { PARTIAL_RESULTS: 'deny' } });
  });
  afterAll(async () => mesh?.stop());

  it('fails with UNAVAILABLE naming the failed istiod', async () => {
    mesh.istiods[0].knobs.rateLimited = true;
    const error = (await mesh
      .client()
      .request(SYNCZ, [], { timeoutMs: 5000 })
      .catch((e: unknown) => e)) as XdsStatusError;
    expect(error.code).toBe(status.UNAVAILABLE);
    expect(error.details).toContain(mesh.istiods[0].podName);
    expect(error.details).toContain('PARTIAL_RESULTS=deny');
    mesh.istiods[0].knobs.rateLimited = false;
    const { response } = await mesh.client().request(SYNCZ);
    expect(response.resources.length).toBeGreaterThan(0);
  });
});
