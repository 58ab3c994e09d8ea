import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { KubeConfig, KubernetesObject, V1ConfigMap, V1Pod, V1Secret } from '@kubernetes/client-node';
import { buildKubeConfig, buildKubeconfigYaml } from './fake-kube-config.js';
import { PORT_FORWARD_PATH, PortForwardEndpoint, rejectUpgrade, type PortForwardRecord } from './fake-kube-portforward.js';
import { parseFieldSelector, parseLabelSelector } from './fake-kube-selectors.js';
import { KINDS, KubeObjectStore, type KubeResource } from './fake-kube-store.js';
import { kubeStatus, sendJson, WatchStream } from './fake-kube-watch.js';
import { istiodPod, type IstiodPodOptions } from './istiod-pod.js';

export interface FakeKubeApiOptions {
  host?: string;
  /** 0 (default) lets the OS pick a free port; read it back from `url` after start(). */
  port?: number;
  /**
   * The bearer token written into kubeConfig()/kubeconfigYaml(). Not enforced by the server; every
   * request's Authorization header (port-forward upgrades included) is recorded instead.
   */
  token?: string;
  /** Sends BOOKMARK events to bookmark-eligible watches this often; no periodic bookmarks if unset. */
  bookmarkIntervalMs?: number;
  /**
   * Which watches get BOOKMARKs. A real API server only sends them when the watch asked with
   * `allowWatchBookmarks=true`, which client-node 1.4's Watch/ListWatch never does, so a test that
   * wants an informer to see bookmarks needs 'always'.
   */
  bookmarks?: 'when-requested' | 'always';
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  watch: boolean;
  /** The plural resource for /api/v1 pods, configmaps and secrets requests, undefined otherwise. */
  resource?: KubeResource;
  /** 'portforward' for a pods/portforward WebSocket upgrade. */
  subresource?: 'portforward';
  authorization?: string;
  /** Date.now() when the request arrived. */
  at: number;
}

export type RouteHandler = (req: IncomingMessage, res: ServerResponse, body: string) => void | Promise<void>;

interface Route {
  method: string;
  pattern: RegExp;
  handler: RouteHandler;
}

interface InjectedFailures {
  remaining: number;
  statusCode: number;
}

const CORE_PATH = /^\/api\/v1(?:\/namespaces\/([^/]+))?\/(pods|configmaps|secrets)(?:\/([^/]+))?$/;
const DEFAULT_TOKEN = 'fake-kube-api-token';

/**
 * A small real Kubernetes API server on loopback: pods, configmaps and secrets with list, get and streaming
 * watch (resume from resourceVersion, 410 on compacted versions, bookmarks), the pods/portforward
 * WebSocket subresource (to the pod's status.podIP), plus fault injection, so end-to-end tests
 * exercise the real @kubernetes/client-node informer and PortForward instead of a mock.
 */
export class FakeKubeApi {
  readonly requests: RecordedRequest[] = [];
  /** 'gone': the next watch gets a 410 Expired ERROR event and ends, then this resets. */
  nextWatchResponse: 'gone' | undefined;

  private readonly host: string;
  private readonly port: number;
  private readonly token: string;
  private readonly bookmarkIntervalMs: number | undefined;
  private readonly bookmarkEveryWatch: boolean;
  private readonly store = new KubeObjectStore();
  private readonly watches = new Set<WatchStream>();
  private readonly routes: Route[] = [];
  private readonly portForward = new PortForwardEndpoint((namespace, name) => this.store.get('pods', namespace, name));
  private readonly watchFailures: InjectedFailures = { remaining: 0, statusCode: 500 };
  private readonly listFailures: InjectedFailures = { remaining: 0, statusCode: 500 };
  private compactedBefore = 0;
  private server: Server | undefined;
  private bookmarkTimer: NodeJS.Timeout | undefined;

  constructor(options: FakeKubeApiOptions = {}) {
    this.host = options.host ?? '127.0.0.1';
    this.port = options.port ?? 0;
    this.token = options.token ?? DEFAULT_TOKEN;
    this.bookmarkIntervalMs = options.bookmarkIntervalMs;
    this.bookmarkEveryWatch = options.bookmarks === 'always';
    this.store.subscribe((event) => this.watches.forEach((watch) => watch.deliver(event)));
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => void this.handle(req, res));
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.handleUpgrade(req, socket, head));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, this.host, () => resolve());
    });
    this.server = server;
    if (this.bookmarkIntervalMs !== undefined) {
      this.bookmarkTimer = setInterval(() => this.sendBookmarks(), this.bookmarkIntervalMs);
      this.bookmarkTimer.unref();
    }
  }

  /** Closes every connection, open watches and port-forwards included (clients see them reset). */
  async stop(): Promise<void> {
    clearInterval(this.bookmarkTimer);
    this.dropWatches();
    // Upgraded sockets are no longer the HTTP server's: closeAllConnections() does not reach them.
    this.dropPortForwards();
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  get url(): string {
    if (!this.server) throw new Error('FakeKubeApi is not started');
    const { port } = this.server.address() as AddressInfo;
    return `http://${this.host}:${port}`;
  }

  kubeConfig(): KubeConfig {
    return buildKubeConfig(this.url, this.token);
  }

  kubeconfigYaml(): string {
    return buildKubeconfigYaml(this.url, this.token);
  }

  /** The current global resourceVersion (what a list would report now). */
  get resourceVersion(): string {
    return String(this.store.resourceVersion);
  }

  get openWatches(): number {
    return this.watches.size;
  }

  /** Port-forward sessions accepted so far (WebSocket upgraded), open or not. */
  get portForwards(): number {
    return this.portForward.history.length;
  }

  /** Port-forward sessions whose WebSocket is still open. */
  get activePortForwards(): number {
    return this.portForward.activeCount;
  }

  /** Every accepted port-forward session, oldest first; filter by `pod` to count per pod. */
  get portForwardSessions(): readonly PortForwardRecord[] {
    return this.portForward.history;
  }

  // --- objects -----------------------------------------------------------------------------

  /** Creates or replaces the pod; returns the resourceVersion it was stored at. */
  upsertPod(pod: V1Pod): string {
    return this.store.upsert('pods', pod).metadata?.resourceVersion ?? '';
  }

  deletePod(namespace: string, name: string): boolean {
    return this.store.delete('pods', namespace, name);
  }

  /** Builds (does not store) an istiod-like pod; pass it to upsertPod(). */
  istiodPod(options: IstiodPodOptions): V1Pod {
    return istiodPod(options);
  }

  upsertConfigMap(namespace: string, name: string, data: Record<string, string>): string {
    const configMap: V1ConfigMap = { metadata: { name, namespace }, data };
    return this.store.upsert('configmaps', configMap).metadata?.resourceVersion ?? '';
  }

  deleteConfigMap(namespace: string, name: string): boolean {
    return this.store.delete('configmaps', namespace, name);
  }

  /** `data` values as given: base64, as a real API server stores and serves them. */
  upsertSecret(namespace: string, name: string, data: Record<string, string>, labels: Record<string, string> = {}): string {
    const secret: V1Secret = { metadata: { name, namespace, labels }, type: 'Opaque', data };
    return this.store.upsert('secrets', secret).metadata?.resourceVersion ?? '';
  }

  deleteSecret(namespace: string, name: string): boolean {
    return this.store.delete('secrets', namespace, name);
  }

  // --- fault injection -----------------------------------------------------------------------

  /**
   * Forgets history before `resourceVersion`: watches that (re)start from an older version get a
   * 410 Expired ERROR event. Open watches are unaffected; call closeWatches() to make clients
   * reconnect into it.
   */
  expireWatchesBefore(resourceVersion: string | number): void {
    this.compactedBefore = Math.max(this.compactedBefore, Number(resourceVersion));
    this.store.compact(this.compactedBefore);
  }

  /** The next `count` watch requests get an HTTP error with a JSON Status body. */
  failNextWatches(count: number, statusCode = 500): void {
    Object.assign(this.watchFailures, { remaining: count, statusCode });
  }

  /** The next `count` list (non-watch collection GET) requests get an HTTP error. */
  failNextLists(count: number, statusCode = 500): void {
    Object.assign(this.listFailures, { remaining: count, statusCode });
  }

  /** Ends every open watch cleanly (server-side timeout); clients resume from their last version. */
  closeWatches(): void {
    this.watches.forEach((watch) => watch.end());
    this.watches.clear();
  }

  /** Destroys every open watch socket mid-stream. */
  dropWatches(): void {
    this.watches.forEach((watch) => watch.drop());
    this.watches.clear();
  }

  /** Destroys every active port-forward mid-stream: clients see the WebSocket drop, pods a reset. */
  dropPortForwards(): void {
    this.portForward.dropAll();
  }

  /** Sends a BOOKMARK with the current resourceVersion to every bookmark-eligible open watch. */
  sendBookmarks(): void {
    this.watches.forEach((watch) => {
      if (watch.wantsBookmarks) watch.bookmark(this.store.resourceVersion);
    });
  }

  // --- accounting and extension --------------------------------------------------------------

  count(filter: { watch?: boolean; resource?: KubeResource } = {}): number {
    return this.requests.filter(
      (request) =>
        (filter.watch === undefined || request.watch === filter.watch) &&
        (filter.resource === undefined || request.resource === filter.resource),
    ).length;
  }

  /** Distinct Authorization header values seen, in order of first appearance. */
  get authorizationHeaders(): string[] {
    return [...new Set(this.requests.flatMap((request) => (request.authorization ? [request.authorization] : [])))];
  }

  /**
   * Adds an endpoint (TokenReview, OIDC discovery, ...) matched against the path without query.
   * Added routes win over the built-in ones. Returns a function that removes the route.
   */
  route(method: string, pathRegex: RegExp, handler: RouteHandler): () => void {
    const route: Route = { method: method.toUpperCase(), pattern: pathRegex, handler };
    this.routes.push(route);
    return () => {
      const index = this.routes.indexOf(route);
      if (index >= 0) this.routes.splice(index, 1);
    };
  }

  // --- request handling ----------------------------------------------------------------------

  private handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // Until the WebSocket owns the socket, a client reset must not become an uncaught 'error'.
    socket.on('error', () => socket.destroy());
    const url = new URL(req.url ?? '/', 'http://fake-kube-api');
    const query = Object.fromEntries(url.searchParams);
    const portForward = req.method === 'GET' ? PORT_FORWARD_PATH.exec(url.pathname) : null;
    this.record(req, url.pathname, query, { subresource: portForward ? 'portforward' : undefined });
    if (!portForward) return rejectUpgrade(socket, kubeStatus(404, 'the server could not find the requested resource'));
    this.portForward.upgrade(req, socket, head, portForward, query);
  }

  private record(req: IncomingMessage, path: string, query: Record<string, string>, extra: Partial<RecordedRequest>): void {
    this.requests.push({
      method: req.method ?? 'GET',
      path,
      query,
      watch: query.watch === 'true' || query.watch === '1',
      authorization: req.headers.authorization,
      at: Date.now(),
      ...extra,
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake-kube-api');
    const query = Object.fromEntries(url.searchParams);
    const method = req.method ?? 'GET';
    const core = CORE_PATH.exec(url.pathname);
    this.record(req, url.pathname, query, { resource: core?.[2] as KubeResource | undefined });
    try {
      const body = await readBody(req);
      const route = this.routes.find((candidate) => candidate.method === method && candidate.pattern.test(url.pathname));
      if (route) return await route.handler(req, res, body);
      if (!core) return sendJson(res, 404, kubeStatus(404, 'the server could not find the requested resource'));
      if (method !== 'GET') return sendJson(res, 405, kubeStatus(405, `${method} is not supported by the fake API server`));
      const [, namespace, plural, name] = core;
      const resource = plural as KubeResource;
      if (name !== undefined) return this.getObject(res, resource, namespace, name);
      this.serveCollection(res, resource, namespace, query);
    } catch (error) {
      if (!res.headersSent) sendJson(res, 500, kubeStatus(500, error instanceof Error ? error.message : String(error)));
      else res.destroy();
    }
  }

  private getObject(res: ServerResponse, resource: KubeResource, namespace: string | undefined, name: string): void {
    const object = namespace === undefined ? undefined : this.store.get(resource, namespace, name);
    if (object) return sendJson(res, 200, object);
    sendJson(res, 404, kubeStatus(404, `${resource} "${name}" not found`));
  }

  private serveCollection(res: ServerResponse, resource: KubeResource, namespace: string | undefined, query: Record<string, string>): void {
    let matches: (object: KubernetesObject) => boolean;
    try {
      const labels = parseLabelSelector(query.labelSelector);
      const fields = parseFieldSelector(query.fieldSelector);
      matches = (object) => (namespace === undefined || object.metadata?.namespace === namespace) && labels(object) && fields(object);
    } catch (error) {
      return sendJson(res, 400, kubeStatus(400, error instanceof Error ? error.message : String(error)));
    }
    const isWatch = query.watch === 'true' || query.watch === '1';
    if (isWatch) this.serveWatch(res, resource, matches, query);
    else this.serveList(res, resource, matches);
  }

  private serveList(res: ServerResponse, resource: KubeResource, matches: (object: KubernetesObject) => boolean): void {
    if (consume(this.listFailures)) {
      return sendJson(res, this.listFailures.statusCode, kubeStatus(this.listFailures.statusCode, 'injected list failure'));
    }
    sendJson(res, 200, {
      kind: KINDS[resource].listKind,
      apiVersion: 'v1',
      metadata: { resourceVersion: this.resourceVersion },
      items: this.store.list(resource, matches),
    });
  }

  private serveWatch(
    res: ServerResponse,
    resource: KubeResource,
    matches: (object: KubernetesObject) => boolean,
    query: Record<string, string>,
  ): void {
    if (consume(this.watchFailures)) {
      return sendJson(res, this.watchFailures.statusCode, kubeStatus(this.watchFailures.statusCode, 'injected watch failure'));
    }
    // '' and '0' both mean "start from current state": synthetic ADDED events for what exists now.
    const from = query.resourceVersion ? Number(query.resourceVersion) : 0;
    if (!Number.isInteger(from)) {
      return sendJson(res, 400, kubeStatus(400, `invalid resource version: ${query.resourceVersion}`));
    }
    const stream = new WatchStream(res, resource, matches, this.bookmarkEveryWatch || query.allowWatchBookmarks === 'true');
    if (this.nextWatchResponse === 'gone' || (from > 0 && from < this.compactedBefore)) {
      this.nextWatchResponse = undefined;
      return stream.expire(from);
    }
    if (from === 0) this.store.list(resource, matches).forEach((object) => stream.send('ADDED', object));
    else this.store.eventsAfter(from).forEach((event) => stream.deliver(event));

    this.watches.add(stream);
    const timeoutSeconds = Number(query.timeoutSeconds);
    const timeout = timeoutSeconds > 0 ? setTimeout(() => stream.end(), timeoutSeconds * 1000) : undefined;
    res.on('close', () => {
      clearTimeout(timeout);
      this.watches.delete(stream);
    });
  }
}

function consume(failures: InjectedFailures): boolean {
  if (failures.remaining <= 0) return false;
  failures.remaining -= 1;
  return true;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
