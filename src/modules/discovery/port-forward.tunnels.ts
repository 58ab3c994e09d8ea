import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { KubeConfig, PortForward } from '@kubernetes/client-node';
import { Logger } from '@nestjs/common';
import { IstiodInstance } from './istiod-instance.js';

/** What a tunnel uses of the WebSocket client-node's portForward() resolves to (a `ws` WebSocket). */
interface ForwardSession {
  close(): void;
  once(event: 'close', listener: () => void): unknown;
}

interface Tunnel {
  pod: IstiodInstance;
  server: Server;
  localPort: number;
  sockets: Set<Socket>;
}

/**
 * UPSTREAM_MODE=port-forward (the proxy runs outside the cluster, e.g. on a laptop): one local
 * listener per istiod pod, kept while the pod exists. The gRPC channel to the pod holds one TCP
 * connection through it, so there is one port-forward per pod, not one per request; when it breaks,
 * grpc-js reconnects and a new port-forward is opened.
 */
export class PortForwardTunnels {
  private readonly logger = new Logger('PortForward');
  private readonly tunnels = new Map<string, Tunnel>();
  private readonly forwarder: PortForward;

  constructor(
    kubeConfig: KubeConfig,
    private readonly namespace: string,
  ) {
    this.forwarder = new PortForward(kubeConfig);
  }

  /** Maps pods to local tunnel addresses, opening and closing tunnels to match. */
  async sync(pods: IstiodInstance[]): Promise<IstiodInstance[]> {
    const wanted = new Set(pods.map((pod) => pod.name));
    for (const [name, tunnel] of this.tunnels) if (!wanted.has(name) || this.changed(tunnel, pods)) this.close(name, tunnel);
    const mapped: IstiodInstance[] = [];
    for (const pod of pods) {
      try {
        const tunnel = this.tunnels.get(pod.name) ?? (await this.open(pod));
        mapped.push({ ...pod, address: '127.0.0.1', port: tunnel.localPort });
      } catch (err) {
        // One pod without a local listener must not end discovery for the others.
        this.logger.warn(`no local listener for ${pod.name}: ${(err as Error).message}; skipping it until the next update`);
      }
    }
    return mapped;
  }

  closeAll(): void {
    for (const [name, tunnel] of this.tunnels) this.close(name, tunnel);
  }

  private changed(tunnel: Tunnel, pods: IstiodInstance[]): boolean {
    const pod = pods.find((p) => p.name === tunnel.pod.name);
    return !!pod && (pod.address !== tunnel.pod.address || pod.port !== tunnel.pod.port);
  }

  private async open(pod: IstiodInstance): Promise<Tunnel> {
    const sockets = new Set<Socket>();
    const server = createServer((socket) => this.forward(pod, socket, sockets));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    server.on('error', (err) => this.logger.warn(`port-forward listener for ${pod.name} failed: ${err.message}`));
    const tunnel: Tunnel = { pod, server, localPort: (server.address() as AddressInfo).port, sockets };
    this.tunnels.set(pod.name, tunnel);
    this.logger.log(`port-forward for ${pod.name} listening on 127.0.0.1:${tunnel.localPort}`);
    return tunnel;
  }

  /** One accepted local connection = one port-forward session to the pod. */
  private forward(pod: IstiodInstance, socket: Socket, sockets: Set<Socket>): void {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    // Without a listener, a reset from the local side (ECONNRESET, EPIPE) would crash the proxy.
    socket.on('error', (err) => this.logger.debug(`port-forward connection to ${pod.name} failed: ${err.message}`));
    this.forwarder.portForward(this.namespace, pod.name, [pod.port], socket, this.errorLog(pod), socket).then(
      (session) => this.bind(socket, session as ForwardSession),
      (err: unknown) => {
        this.logger.warn(`port-forward to ${pod.name}:${pod.port} failed: ${(err as Error).message}`);
        socket.destroy();
      },
    );
  }

  /**
   * client-node links the two ends only for data. Without this, a dropped port-forward leaves grpc-js a
   * socket that swallows everything until keepalive gives up (15 s or more), and a closed local socket
   * (destroyed, or ended under v5.channel.k8s.io) leaves the WebSocket open on the API server.
   */
  private bind(socket: Socket, session: ForwardSession): void {
    session.once('close', () => socket.end());
    if (socket.destroyed)
      session.close(); // closed while the WebSocket was opening
    else socket.once('close', () => session.close());
  }

  /** The API server reports failures to reach the pod's port on the error channel. */
  private errorLog(pod: IstiodInstance): Writable {
    return new Writable({
      write: (chunk: Buffer, _encoding, done) => {
        const message = chunk.toString('utf8').trim();
        if (message) this.logger.warn(`port-forward to ${pod.name}:${pod.port}: ${message}`);
        done();
      },
    });
  }

  private close(name: string, tunnel: Tunnel): void {
    this.tunnels.delete(name);
    tunnel.server.close();
    for (const socket of tunnel.sockets) socket.destroy();
  }
}
