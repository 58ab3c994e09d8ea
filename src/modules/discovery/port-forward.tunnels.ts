import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { KubeConfig, PortForward } from '@kubernetes/client-node';
import { Logger } from '@nestjs/common';
import { IstiodInstance } from './istiod-instance.js';

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
      const tunnel = this.tunnels.get(pod.name) ?? (await this.open(pod));
      mapped.push({ ...pod, address: '127.0.0.1', port: tunnel.localPort });
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
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      this.forwarder.portForward(this.namespace, pod.name, [pod.port], socket, null, socket).catch((err: unknown) => {
        this.logger.warn(`port-forward to ${pod.name}:${pod.port} failed: ${(err as Error).message}`);
        socket.destroy();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const tunnel: Tunnel = { pod, server, localPort: (server.address() as AddressInfo).port, sockets };
    this.tunnels.set(pod.name, tunnel);
    this.logger.log(`port-forward for ${pod.name} listening on 127.0.0.1:${tunnel.localPort}`);
    return tunnel;
  }

  private close(name: string, tunnel: Tunnel): void {
    this.tunnels.delete(name);
    tunnel.server.close();
    for (const socket of tunnel.sockets) socket.destroy();
  }
}
