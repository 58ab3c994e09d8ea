import { createServer, type Server, type Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ApiException,
  CoreV1Api,
  KubeConfig,
  ListWatch,
  makeInformer,
  PortForward,
  Watch,
  type Informer,
  type KubernetesObject,
  type ObjectCache,
  type V1ConfigMap,
  type V1Pod,
} from '@kubernetes/client-node';
import type { WebSocket } from 'ws';
import { FakeKubeApi, type FakeKubeApiOptions } from './fake-kube-api.js';
import { freePort } from './free-port.js';

const PODS_PATH = '/api/v1/namespaces/istio-system/pods';
const SELECTOR = 'app=istiod';

type CachingInformer<T extends KubernetesObject> = Informer<T> & ObjectCache<T>;

/** What client-node's informer hands its 'error' listeners (typed `any` there). */
type InformerError = Error & { statusCode?: number; code?: number | string };

interface Observed<T extends KubernetesObject> {
  informer: CachingInformer<T>;
  /** 'add:name', 'update:name', 'delete:name', 'connect' in arrival order. */
  events: string[];
  errors: InformerError[];
}

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startApi(options: FakeKubeApiOptions = {}): Promise<FakeKubeApi> {
  const api = new FakeKubeApi(options);
  await api.start();
  cleanups.push(() => api.stop());
  return api;
}

function observe<T extends KubernetesObject>(informer: CachingInformer<T>): Observed<T> {
  const observed: Observed<T> = { informer, events: [], errors: [] };
  for (const verb of ['add', 'update', 'delete'] as const) {
    informer.on(verb, (object) => observed.events.push(`${verb}:${object.metadata?.name}`));
  }
  informer.on('connect', () => observed.events.push('connect'));
  informer.on('error', (error: InformerError) => observed.errors.push(error));
  // stop() aborts the open watch, and client-node reports that abort as an 'error' (see below).
  cleanups.push(() => informer.stop());
  return observed;
}

async function startPodInformer(api: FakeKubeApi): Promise<Observed<V1Pod>> {
  const kubeConfig = api.kubeConfig();
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const informer = makeInformer<V1Pod>(
    kubeConfig,
    PODS_PATH,
    () => core.listNamespacedPod({ namespace: 'istio-system', labelSelector: SELECTOR }),
    SELECTOR,
  );
  const observed = observe(informer);
  await informer.start();
  return observed;
}

/** makeInformer returns a ListWatch; its type just does not expose latestResourceVersion(). */
function latestResourceVersion(informer: Informer<KubernetesObject>): string {
  if (!(informer instanceof ListWatch)) throw new Error('expected makeInformer to build a ListWatch');
  return informer.latestResourceVersion();
}

/** Polls: these tests cross a real socket, so there is no event to await for "nothing else happened". */
async function eventually(assertion: () => void, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return assertion();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}

const settle = (ms = 150): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function lastWatch(api: FakeKubeApi) {
  return api.requests.filter((request) => request.watch).at(-1);
}

describe('FakeKubeApi driven by the real client-node informer', () => {
  it('lists then watches with the label selector, delivering add, update and delete', async () => {
    const api = await startApi();
    api.upsertPod(api.istiodPod({ name: 'istiod-a', ip: '10.0.0.1' }));
    const { events, informer } = await startPodInformer(api);

    expect(events).toEqual(['connect', 'add:istiod-a']);
    const [list, watch] = api.requests;
    expect(list).toMatchObject({ method: 'GET', path: PODS_PATH, watch: false, resource: 'pods', query: { labelSelector: SELECTOR } });
    // client-node 1.4 sends only these; notably no allowWatchBookmarks and no timeoutSeconds.
    expect(watch.query).toEqual({ watch: 'true', resourceVersion: '1', labelSelector: SELECTOR });

    api.upsertPod(api.istiodPod({ name: 'istiod-a', ip: '10.0.0.1', ready: false }));
    api.upsertPod(api.istiodPod({ name: 'istiod-b', ip: '10.0.0.2', revision: 'canary' }));
    api.upsertPod(api.istiodPod({ name: 'istiod-x', namespace: 'other', ip: '10.0.0.9' }));
    api.upsertPod(api.istiodPod({ name: 'sidecar', ip: '10.0.0.8', labels: { app: 'productpage' } }));
    api.deletePod('istio-system', 'istiod-b');
    // Relabelling a pod out of the selector reaches a selector watch as DELETED, as on a real server.
    api.upsertPod(api.istiodPod({ name: 'istiod-a', ip: '10.0.0.1', labels: { app: 'retired' } }));

    await eventually(() =>
      expect(events).toEqual(['connect', 'add:istiod-a', 'update:istiod-a', 'add:istiod-b', 'delete:istiod-b', 'delete:istiod-a']),
    );
    expect(informer.list()).toEqual([]);
    expect(latestResourceVersion(informer)).toBe(api.resourceVersion);
  });

  it('serves a realistic istiod pod (labels, phase, IP, Ready condition, deletionTimestamp)', async () => {
    const api = await startApi();
    api.upsertPod(api.istiodPod({ name: 'istiod-old', ip: '10.0.0.3', revision: '1-24', terminating: true, ready: false }));
    const { informer } = await startPodInformer(api);

    const pod = informer.get('istiod-old', 'istio-system');
    expect(pod?.metadata?.labels).toEqual({ app: 'istiod', 'istio.io/rev': '1-24' });
    expect(pod?.metadata?.deletionTimestamp).toBeDefined();
    expect(pod?.status).toMatchObject({ phase: 'Running', podIP: '10.0.0.3' });
    expect(pod?.status?.conditions?.find((condition) => condition.type === 'Ready')?.status).toBe('False');
  });

  it('resumes a cleanly closed watch from its last resourceVersion without relisting', async () => {
    const api = await startApi();
    api.upsertPod(api.istiodPod({ name: 'istiod-a', ip: '10.0.0.1' }));
    const { events, errors, informer } = await startPodInformer(api);

    api.closeWatches();

    await eventually(() => expect(api.count({ watch: true })).toBe(2));
    expect(api.count({ watch: false })).toBe(1);
    expect(lastWatch(api)?.query.resourceVersion).toBe(latestResourceVersion(informer));
    expect(events).toEqual(['connect', 'add:istiod-a', 'connect']);
    expect(errors).toEqual([]);
  });

  // client-node 1.4 handles 410 itself: ListWatch.watchHandler clears its resourceVersion on an
  // ERROR event with code 410, the server then ends the stream, and doneHandler(null) sees no
  // resourceVersion so it lists again before re-watching. Objects whose resourceVersion did not
  // change produce no event; objects missing from the new list produce 'delete'. No 'error' fires.
  it('relists after a 410 Expired ERROR event, without emitting error or duplicate adds', async () => {
    const api = await startApi();
    api.upsertPod(api.istiodPod({ name: 'istiod-a', ip: '10.0.0.1' }));
    const { events, errors } = await startPodInformer(api);

    api.nextWatchResponse = 'gone';
    api.closeWatches();

    await eventually(() =>
      expect(api.requests.map((request) => (request.watch ? 'watch' : 'list'))).toEqual(['list', 'watch', 'watch', 'list', 'watch']),
    );
    expect(events).toEqual(['connect', 'add:istiod-a', 'connect', 'connect']);
    expect(errors).toEqual([]);
    api.upsertPod(api.istiodPod({ name: 'istiod-b', ip: '10.0.0.2' }));
    await eventually(() => expect(events.at(-1)).toBe('add:istiod-b'));
  });

  it('relists the same way when the watch itself is answered with HTTP 410', async () => {
    const api = await startApi();
    const { errors } = await startPodInformer(api);

    api.failNextWatches(1, 410);
    api.closeWatches();

    await eventually(() => expect(api.count({ watch: false })).toBe(2));
    await eventually(() => expect(api.openWatches).toBe(1));
    expect(errors).toEqual([]);
  });

  // Anything but 410 ends the informer: doneHandler emits 'error' and returns without re-watching.
  // The product has to call start() again; start() keeps the last resourceVersion, so it resumes
  // the watch (replaying what it missed) instead of listing.
  it('emits error and stops on HTTP 500 from the watch; start() resumes from the last resourceVersion', async () => {
    const api = await startApi();
    api.upsertPod(api.istiodPod({ name: 'istiod-a', ip: '10.0.0.1' }));
    const { events, errors, informer } = await startPodInformer(api);

    api.failNextWatches(1, 500);
    api.closeWatches();

    await eventually(() => expect(errors).toHaveLength(1));
    expect(errors[0]).toMatchObject({ statusCode: 500, message: 'Internal Server Error' });
    await settle();
    expect(api.count({ watch: true })).toBe(2);
    expect(api.openWatches).toBe(0);

    api.deletePod('istio-system', 'istiod-a');
    await informer.start();
    await eventually(() => expect(events.at(-1)).toBe('delete:istiod-a'));
    expect(api.count({ watch: false })).toBe(1);
    expect(lastWatch(api)?.query.resourceVersion).toBe('1');
  });

  // A reset mid-stream surfaces as node-fetch's "Premature close" and, like a 500, stops the informer.
  it('emits ERR_STREAM_PREMATURE_CLOSE and stops when the watch connection is dropped', async () => {
    const api = await startApi();
    const { errors } = await startPodInformer(api);

    api.dropWatches();

    await eventually(() => expect(errors).toHaveLength(1));
    expect(errors[0]).toMatchObject({ code: 'ERR_STREAM_PREMATURE_CLOSE' });
    await settle();
    expect(api.count({ watch: true })).toBe(1);
  });

  it('after a restart into compacted history, relists and deletes pods that vanished meanwhile', async () => {
    const api = await startApi();
    api.upsertPod(api.istiodPod({ name: 'istiod-a', ip: '10.0.0.1' }));
    const { events, errors, informer } = await startPodInformer(api);
    api.dropWatches();
    await eventually(() => expect(errors).toHaveLength(1));

    api.deletePod('istio-system', 'istiod-a');
    api.upsertPod(api.istiodPod({ name: 'istiod-c', ip: '10.0.0.3' }));
    api.expireWatchesBefore(api.resourceVersion);
    await informer.start();

    await eventually(() => expect(events.slice(-2)).toEqual(['delete:istiod-a', 'add:istiod-c']));
    expect(api.count({ watch: false })).toBe(2);
    expect(errors).toHaveLength(1);
  });

  // Surprising but real: ListWatch.stop() aborts the request and the abort reaches doneHandler as
  // an error, which is emitted before the `stopped` check. Consumers must ignore it after stop().
  it('reports its own stop() as an AbortError', async () => {
    const api = await startApi();
    const { errors, informer } = await startPodInformer(api);

    await informer.stop();

    await eventually(() => expect(errors.map((error) => error.name)).toEqual(['AbortError']));
  });

  it('lets BOOKMARK events advance the resourceVersion without pod events', async () => {
    const api = await startApi({ bookmarks: 'always' });
    api.upsertPod(api.istiodPod({ name: 'istiod-a', ip: '10.0.0.1' }));
    const { events, informer } = await startPodInformer(api);
    api.upsertConfigMap('istio-system', 'istio', { mesh: '{}' });
    api.upsertPod(api.istiodPod({ name: 'unrelated', namespace: 'default', ip: '10.0.0.7' }));
    expect(latestResourceVersion(informer)).toBe('1');

    api.sendBookmarks();

    await eventually(() => expect(latestResourceVersion(informer)).toBe('3'));
    expect(events).toEqual(['connect', 'add:istiod-a']);
    api.closeWatches();
    await eventually(() => expect(lastWatch(api)?.query.resourceVersion).toBe('3'));
  });

  it('sends periodic bookmarks when configured with bookmarkIntervalMs', async () => {
    const api = await startApi({ bookmarks: 'always', bookmarkIntervalMs: 20 });
    const { informer } = await startPodInformer(api);
    api.upsertConfigMap('istio-system', 'istio', {});

    await eventually(() => expect(latestResourceVersion(informer)).toBe(api.resourceVersion));
  });

  it('watches a single configmap by fieldSelector and reads it with CoreV1Api', async () => {
    const api = await startApi();
    api.upsertConfigMap('istio-system', 'istio', { mesh: 'defaultConfig: {}' });
    api.upsertConfigMap('istio-system', 'other', { x: '1' });
    const kubeConfig = api.kubeConfig();
    const core = kubeConfig.makeApiClient(CoreV1Api);
    const fieldSelector = 'metadata.name=istio';
    const informer = new ListWatch<V1ConfigMap>(
      '/api/v1/namespaces/istio-system/configmaps',
      new Watch(kubeConfig),
      () => core.listNamespacedConfigMap({ namespace: 'istio-system', fieldSelector }),
      false,
      undefined,
      fieldSelector,
    );
    const { events } = observe(informer);
    await informer.start();

    api.upsertConfigMap('istio-system', 'other', { x: '2' });
    api.upsertConfigMap('istio-system', 'istio', { mesh: 'changed' });
    await eventually(() => expect(events).toEqual(['connect', 'add:istio', 'update:istio']));
    expect(lastWatch(api)?.query).toMatchObject({ fieldSelector });
    expect(api.count({ resource: 'configmaps' })).toBe(2);

    const read = await core.readNamespacedConfigMap({ namespace: 'istio-system', name: 'istio' });
    expect(read.data).toEqual({ mesh: 'changed' });
    const missing = core.readNamespacedConfigMap({ namespace: 'istio-system', name: 'absent' });
    await expect(missing).rejects.toBeInstanceOf(ApiException);
    await expect(missing).rejects.toMatchObject({ code: 404 });
  });

  it('matches k!=v and key-existence selectors and can fail lists', async () => {
    const api = await startApi();
    api.upsertPod(api.istiodPod({ name: 'stable', ip: '10.0.0.1' }));
    api.upsertPod(api.istiodPod({ name: 'canary', ip: '10.0.0.2', revision: 'canary' }));
    const core = api.kubeConfig().makeApiClient(CoreV1Api);
    const names = async (labelSelector: string): Promise<Array<string | undefined>> =>
      (await core.listNamespacedPod({ namespace: 'istio-system', labelSelector })).items.map((pod) => pod.metadata?.name);

    expect(await names('app=istiod,istio.io/rev')).toEqual(['canary']);
    expect(await names('app==istiod,!istio.io/rev')).toEqual(['stable']);
    expect(await names('istio.io/rev!=canary')).toEqual(['stable']);

    api.failNextLists(1, 503);
    await expect(names(SELECTOR)).rejects.toMatchObject({ code: 503 });
    expect(await names(SELECTOR)).toEqual(['stable', 'canary']);
  });

  it('sends the bearer token, also through kubeconfigYaml()', async () => {
    const api = await startApi({ token: 'secret-token' });
    api.upsertPod(api.istiodPod({ name: 'istiod-a', ip: '10.0.0.1' }));
    const fromFile = new KubeConfig();
    fromFile.loadFromString(api.kubeconfigYaml());

    const pods = await fromFile.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: 'istio-system' });

    expect(fromFile.getCurrentCluster()?.server).toBe(api.url);
    expect(pods.items.map((pod) => pod.metadata?.name)).toEqual(['istiod-a']);
    expect(api.authorizationHeaders).toEqual(['Bearer secret-token']);
  });

  it('routes extra endpoints registered by other tests', async () => {
    const api = await startApi();
    const remove = api.route('POST', /^\/apis\/authentication\.k8s\.io\/v1\/tokenreviews$/, (_req, res, body) => {
      const review = JSON.parse(body) as { spec: { token: string } };
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ...review, status: { authenticated: review.spec.token === 'good' } }));
    });
    const post = (): Promise<Response> =>
      fetch(`${api.url}/apis/authentication.k8s.io/v1/tokenreviews`, { method: 'POST', body: JSON.stringify({ spec: { token: 'good' } }) });

    const created = await post();
    expect(created.status).toBe(201);
    expect(await created.json()).toMatchObject({ status: { authenticated: true } });

    remove();
    expect((await post()).status).toBe(404);
  });

  it('replays history newer than the requested resourceVersion and honours allowWatchBookmarks', async () => {
    const api = await startApi();
    api.upsertPod(api.istiodPod({ name: 'istiod-a', ip: '10.0.0.1' }));
    api.upsertPod(api.istiodPod({ name: 'istiod-b', ip: '10.0.0.2' }));
    const controller = new AbortController();
    cleanups.push(() => controller.abort());
    const response = await fetch(`${api.url}${PODS_PATH}?watch=true&resourceVersion=1&allowWatchBookmarks=true`, {
      signal: controller.signal,
    });
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();

    api.sendBookmarks();
    let text = '';
    while (text.split('\n').length < 3) text += (await reader.read()).value ?? '';

    const [replayed, bookmark] = text
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { type: string; object: KubernetesObject });
    expect(replayed).toMatchObject({ type: 'ADDED', object: { metadata: { name: 'istiod-b', resourceVersion: '2' } } });
    expect(bookmark).toEqual({ type: 'BOOKMARK', object: { apiVersion: 'v1', kind: 'Pod', metadata: { resourceVersion: '2' } } });
  });
});

/** A TCP server standing in for a pod's container port; `onConnection` decides what it does. */
async function startPodServer(onConnection: (socket: Socket) => void): Promise<{ server: Server; port: number; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    onConnection(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  cleanups.push(async () => {
    sockets.forEach((socket) => socket.destroy());
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('pod server has no TCP address');
  return { server, port: address.port, sockets };
}

interface Forwarded {
  ws: WebSocket;
  input: PassThrough;
  received: () => Buffer;
  errors: () => string;
  closed: Promise<number>;
}

/** client-node's PortForward, exactly as the product calls it (one port, no retries). */
async function forward(api: FakeKubeApi, pod: string, port: number): Promise<Forwarded> {
  const input = new PassThrough();
  const output = new PassThrough();
  const errorOutput = new PassThrough();
  const received: Buffer[] = [];
  let errors = '';
  output.on('data', (chunk: Buffer) => received.push(chunk));
  errorOutput.on('data', (chunk: Buffer) => (errors += chunk.toString()));
  const ws = await new PortForward(api.kubeConfig()).portForward('istio-system', pod, [port], output, errorOutput, input);
  if (typeof ws === 'function') throw new Error('expected a WebSocket (no retryCount given)');
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  cleanups.push(() => ws.terminate());
  return { ws, input, received: () => Buffer.concat(received), errors: () => errors, closed };
}

describe('FakeKubeApi pods/portforward driven by the real client-node PortForward', () => {
  it('pipes both directions between the WebSocket and the pod IP, accounting the session', async () => {
    const api = await startApi({ token: 'pf-token' });
    const pod = await startPodServer((socket) => socket.pipe(socket));
    api.upsertPod(api.istiodPod({ name: 'istiod-a', ip: '127.0.0.1' }));

    const session = await forward(api, 'istiod-a', pod.port);
    session.input.write('ping');
    session.input.write(Buffer.from([0, 1, 2, 255]));

    // The 2-byte port prefix of each channel is consumed by client-node, not delivered as data.
    await eventually(() => expect(session.received()).toEqual(Buffer.concat([Buffer.from('ping'), Buffer.from([0, 1, 2, 255])])));
    expect(session.ws.protocol).toBe('v4.channel.k8s.io');
    expect(session.errors()).toBe('');
    expect(api.portForwards).toBe(1);
    expect(api.activePortForwards).toBe(1);
    expect(api.portForwardSessions).toEqual([
      { namespace: 'istio-system', pod: 'istiod-a', port: pod.port, at: expect.any(Number) as unknown },
    ]);
    expect(api.requests.at(-1)).toMatchObject({
      method: 'GET',
      path: '/api/v1/namespaces/istio-system/pods/istiod-a/portforward',
      query: { ports: String(pod.port) },
      subresource: 'portforward',
      authorization: 'Bearer pf-token',
    });

    // The client ending its input closes the WebSocket (v4 has no half-close); the pod side follows.
    session.input.end();
    expect(await session.closed).toBe(1005); // a clean close; client-node's ws.close() sends no status code
    await eventually(() => expect(pod.sockets.size).toBe(0));
    await eventually(() => expect(api.activePortForwards).toBe(0));
    expect(api.portForwards).toBe(1);
  });

  it('closes the WebSocket when the pod closes the connection', async () => {
    const api = await startApi();
    const pod = await startPodServer((socket) => socket.end('bye'));
    api.upsertPod(api.istiodPod({ name: 'istiod-a', ip: '127.0.0.1' }));

    const session = await forward(api, 'istiod-a', pod.port);

    expect(await session.closed).toBe(1000);
    expect(session.received().toString()).toBe('bye');
    await eventually(() => expect(api.activePortForwards).toBe(0));
  });

  it('reports a refused pod port on the error channel and closes', async () => {
    const api = await startApi();
    const port = await freePort();
    api.upsertPod(api.istiodPod({ name: 'istiod-a', ip: '127.0.0.1' }));

    const session = await forward(api, 'istiod-a', port);

    expect(await session.closed).toBe(1000);
    expect(session.errors()).toMatch(new RegExp(`^error forwarding port ${port} to pod istiod-a: .*ECONNREFUSED`));
  });

  it('answers 404 for a missing pod and 400 for a pod without IP, without upgrading', async () => {
    const api = await startApi();
    api.upsertPod(api.istiodPod({ name: 'pending' }));

    await expect(forward(api, 'absent', 15012)).rejects.toMatchObject({ message: 'Unexpected server response: 404' });
    await expect(forward(api, 'pending', 15012)).rejects.toMatchObject({ message: 'Unexpected server response: 400' });
    expect(api.portForwards).toBe(0);
    expect(api.count()).toBe(2);
  });

  it('dropPortForwards() destroys active sessions on both sides; new sessions still work', async () => {
    const api = await startApi();
    const pod = await startPodServer((socket) => socket.pipe(socket));
    api.upsertPod(api.istiodPod({ name: 'istiod-a', ip: '127.0.0.1' }));
    const first = await forward(api, 'istiod-a', pod.port);
    const second = await forward(api, 'istiod-a', pod.port);
    await eventually(() => expect(pod.sockets.size).toBe(2));

    api.dropPortForwards();

    // 1006: closed without a close frame, as when the connection to the API server is cut.
    expect(await Promise.all([first.closed, second.closed])).toEqual([1006, 1006]);
    await eventually(() => expect(pod.sockets.size).toBe(0));
    expect(api.activePortForwards).toBe(0);
    const third = await forward(api, 'istiod-a', pod.port);
    third.input.write('again');
    await eventually(() => expect(third.received().toString()).toBe('again'));
    expect(api.portForwards).toBe(3);
  });

  it('stop() ends open port-forwards instead of waiting for them', async () => {
    const api = new FakeKubeApi();
    await api.start();
    const pod = await startPodServer((socket) => socket.pipe(socket));
    api.upsertPod(api.istiodPod({ name: 'istiod-a', ip: '127.0.0.1' }));
    const session = await forward(api, 'istiod-a', pod.port);

    await api.stop();

    expect(await session.closed).toBe(1006);
  });
});
