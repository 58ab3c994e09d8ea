import { randomUUID } from 'node:crypto';
import { createServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { adsServiceDefinition } from '../../src/common/proto.js';
import type { DiscoveryRequest, DiscoveryResponse } from '../../src/common/xds-types.js';
import type { MeshView, SimulatedConnection } from './debug-documents.js';
import { SYNCZ_TYPE_URL, generateResources } from './debug-generators.js';
import type { SimulatedProxy } from './simulated-proxy.js';
import { SimulatedStream, type AdsCall, type StreamHost, type StreamRecord } from './simulated-stream.js';
import { defaultKnobs, type SimulatorKnobs } from './simulator-knobs.js';
import type { CallerIdentity } from './xds-node.js';
import { ISTIOD_MESSAGES, XdsStatusError } from './xds-status.js';

export type { SimulatedProxy, SimulatedProxyType, SimulatedConfigStatus } from './simulated-proxy.js';
export type { SimulatorKnobs } from './simulator-knobs.js';
export type { StreamRecord } from './simulated-stream.js';
export type { CallerIdentity } from './xds-node.js';

export interface SimulatedIstiodOptions {
  /** The control_plane identifier's `ID` (istiod's POD_NAME). */
  podName: string;
  /** `Info.version` and `Info.tag`, e.g. `1.27.3`. */
  version: string;
  proxies?: SimulatedProxy[];
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: an ephemeral port, read `port`/`address` after start(). */
  port?: number;
  /** Absent: plaintext h2c, like istiod's port 15010. */
  tls?: { certPem: string; keyPem: string };
  /** istiod's own namespace; default istio-system. */
  namespace?: string;
  /**
   * Reviews tokens of istiod's own (primary) cluster, used when a stream carries no `clusterid`.
   * Absent: no token required and callers stay unverified (no identity checks apply to them).
   */
  verifyToken?: (token: string) => Promise<CallerIdentity>;
  /** istiod's own cluster ID (its CLUSTER_ID, default `Kubernetes`): `clusterid` naming it means `verifyToken`. */
  clusterId?: string;
  /**
   * Remote clusters, as istiod knows them from its remote secrets: a stream whose `clusterid` names
   * one has its token reviewed by that cluster (kube_jwt.go `remoteKubeClientGetter`). When set, a
   * `clusterid` naming neither one of them nor `clusterId` fails authentication.
   */
  clusters?: Record<string, (token: string) => Promise<CallerIdentity>>;
  /** When set, a `clusterid` header naming another cluster fails authentication. */
  knownClusterIds?: string[];
  /** Bodies for `istio.io/debug` paths (the name before `?`), replacing the built-in ones. */
  debugBodies?: Record<string, string>;
  /** Initial knob values (fixtures: a replica whose clusterz reports a remote cluster timing out...). */
  knobs?: Partial<SimulatorKnobs>;
}

const DEFAULT_HOST = '127.0.0.1';
const DEFAULT_NAMESPACE = 'istio-system';
/** istiod's CLUSTER_ID default. */
const DEFAULT_CLUSTER_ID = 'Kubernetes';
const GOLANG_VERSION = 'go1.24.6';
const BEARER_PREFIX = 'Bearer ';

/** RFC 3339 without fractional seconds, as Go's `time.RFC3339` formats istiod's push version. */
function rfc3339(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** A stable fake git sha per version, so replicas of one version agree on `Info.revision`. */
function revisionOf(version: string): string {
  return Buffer.from(version.padEnd(20, '.')).toString('hex').slice(0, 40);
}

/**
 * One istiod replica's discovery server, faithful to the wire contract in protocol.md §3/§7: TLS or
 * plaintext gRPC, the error table, syncz/config_dump/debug generators, and test knobs.
 */
export class SimulatedIstiod implements StreamHost {
  readonly knobs: SimulatorKnobs = defaultKnobs();
  /** Read on every answer: push, splice or replace to connect and disconnect proxies. */
  proxies: SimulatedProxy[];
  /** Every stream ever opened, in order, with its metadata, node and requests. */
  readonly streams: StreamRecord[] = [];
  port = 0;
  address = '';

  private readonly server: grpc.Server;
  private readonly sockets = new Set<Socket>();
  private readonly activeCalls = new Set<AdsCall>();
  private readonly connections = new WeakMap<SimulatedProxy, { sequence: number; connectedAt: Date }>();
  private connectionSequence = 0;
  private pushCounter = 0;
  private listener?: NetServer;

  constructor(private readonly options: SimulatedIstiodOptions) {
    this.proxies = [...(options.proxies ?? [])];
    Object.assign(this.knobs, options.knobs);
    this.server = new grpc.Server({ 'grpc.max_send_message_length': -1, 'grpc.max_receive_message_length': -1 });
    this.server.addService(adsServiceDefinition(), {
      StreamAggregatedResources: (call: AdsCall) => this.openStream(call),
      DeltaAggregatedResources: (call: AdsCall) =>
        call.emit('error', new XdsStatusError(grpc.status.UNIMPLEMENTED, 'DeltaAggregatedResources is not implemented')),
    });
  }

  get podName(): string {
    return this.options.podName;
  }

  get version(): string {
    return this.options.version;
  }

  /** StreamAggregatedResources calls that are neither finished nor cancelled. */
  get openStreams(): number {
    return this.activeCalls.size;
  }

  /** The control_plane identifier this replica puts on its responses. */
  get controlPlaneIdentifier(): string {
    const { podName, version } = this.options;
    return JSON.stringify({
      Component: 'istiod',
      ID: podName,
      Info: { version, revision: revisionOf(version), golang_version: GOLANG_VERSION, status: 'Clean', tag: version },
    });
  }

  /**
   * Listens with a plain net.Server and hands sockets to grpc-js, so `resetMidAnswer` can destroy
   * the exact TCP connection a call arrived on (grpc-js does not expose its sockets).
   */
  async start(): Promise<void> {
    const credentials = this.options.tls
      ? grpc.ServerCredentials.createSsl(null, [
          { cert_chain: Buffer.from(this.options.tls.certPem), private_key: Buffer.from(this.options.tls.keyPem) },
        ])
      : grpc.ServerCredentials.createInsecure();
    const injector = this.server.createConnectionInjector(credentials);
    const listener = createServer((socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      injector.injectConnection(socket);
    });
    const host = this.options.host ?? DEFAULT_HOST;
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(this.options.port ?? 0, host, () => resolve());
    });
    this.listener = listener;
    this.port = (listener.address() as AddressInfo).port;
    this.address = `${host.includes(':') ? `[${host}]` : host}:${this.port}`;
  }

  async stop(): Promise<void> {
    this.server.forceShutdown();
    for (const socket of this.sockets) socket.destroy();
    this.activeCalls.clear();
    const listener = this.listener;
    this.listener = undefined;
    if (listener) await new Promise<void>((resolve) => listener.close(() => resolve()));
  }

  /** @internal StreamHost */
  async admit(metadata: grpc.Metadata): Promise<CallerIdentity | undefined> {
    if (this.knobs.notReady) throw new XdsStatusError(grpc.status.UNAVAILABLE, ISTIOD_MESSAGES.notReady);
    if (this.knobs.rateLimited) throw new XdsStatusError(grpc.status.RESOURCE_EXHAUSTED, ISTIOD_MESSAGES.rateLimited);
    const authenticationFailure = new XdsStatusError(grpc.status.UNAUTHENTICATED, ISTIOD_MESSAGES.authenticationFailure);
    const [clusterId] = metadata.get('clusterid');
    if (clusterId !== undefined && this.options.knownClusterIds && !this.options.knownClusterIds.includes(String(clusterId))) {
      throw authenticationFailure;
    }
    const verifyToken = this.reviewerFor(clusterId === undefined ? undefined : String(clusterId));
    if (verifyToken === null) throw authenticationFailure;
    if (!verifyToken) return undefined;
    const [authorization] = metadata.get('authorization');
    if (typeof authorization !== 'string' || !authorization.startsWith(BEARER_PREFIX)) throw authenticationFailure;
    try {
      const { namespace, serviceAccount } = await verifyToken(authorization.slice(BEARER_PREFIX.length));
      return { namespace, serviceAccount };
    } catch {
      throw authenticationFailure;
    }
  }

  /** Who reviews a stream's token: the primary without `clusterid`; null for a cluster istiod does not know. */
  private reviewerFor(clusterId: string | undefined): SimulatedIstiodOptions['verifyToken'] | null {
    const { clusters, verifyToken } = this.options;
    if (clusterId === undefined || !clusters || clusterId === (this.options.clusterId ?? DEFAULT_CLUSTER_ID)) return verifyToken;
    return Object.hasOwn(clusters, clusterId) ? clusters[clusterId] : null;
  }

  /** @internal StreamHost */
  answer(request: DiscoveryRequest, caller: CallerIdentity | undefined): DiscoveryResponse {
    const now = new Date();
    const resources = generateResources(request, {
      view: this.meshView(now),
      knobs: this.knobs,
      debugBodies: this.options.debugBodies ?? {},
      caller,
    });
    const version = `${rfc3339(now)}/${++this.pushCounter}`;
    const withControlPlane = request.type_url === SYNCZ_TYPE_URL || this.knobs.controlPlaneOnAllTypes;
    return {
      version_info: version,
      resources,
      type_url: request.type_url,
      nonce: `${version}${randomUUID()}`,
      control_plane: withControlPlane ? { identifier: this.controlPlaneIdentifier } : null,
    };
  }

  /** @internal StreamHost */
  resetConnection(call: AdsCall): void {
    const peer = call.getPeer();
    const socket = [...this.sockets].find((candidate) => `${candidate.remoteAddress}:${candidate.remotePort}` === peer);
    if (socket) socket.resetAndDestroy();
    else call.destroy(new Error('simulated connection reset'));
  }

  private openStream(call: AdsCall): void {
    this.activeCalls.add(call);
    const forget = () => this.activeCalls.delete(call);
    call.on('cancelled', forget);
    call.on('finish', forget);
    call.on('close', forget);
    call.on('error', forget);
    this.streams.push(new SimulatedStream(call, this).record);
  }

  private meshView(now: Date): MeshView {
    return {
      podName: this.options.podName,
      version: this.options.version,
      istiodNamespace: this.options.namespace ?? DEFAULT_NAMESPACE,
      connections: this.proxies.map((proxy) => this.connectionOf(proxy)),
      now,
    };
  }

  /** Numbers connections the way istiod does (`<proxyID>-<n>`), stable for a proxy object's lifetime. */
  private connectionOf(proxy: SimulatedProxy): SimulatedConnection {
    let connection = this.connections.get(proxy);
    if (!connection) {
      connection = { sequence: ++this.connectionSequence, connectedAt: new Date() };
      this.connections.set(proxy, connection);
    }
    return { proxy, connectionId: `${proxy.id}-${connection.sequence}`, connectedAt: connection.connectedAt };
  }
}
