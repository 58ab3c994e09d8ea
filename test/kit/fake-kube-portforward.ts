import { STATUS_CODES, type IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { V1Pod } from '@kubernetes/client-node';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { kubeStatus, type KubeStatus } from './fake-kube-watch.js';

/**
 * The subprotocol this server picks from client-node 1.4's offer (v5, v4, v3, v2, channel.k8s.io).
 * v5 only adds a "close stream" frame; with v4 a closed WebSocket is the only end-of-stream signal.
 */
export const PORT_FORWARD_PROTOCOL = 'v4.channel.k8s.io';

/** For the first (and, with client-node, only) forwarded port: channel 0 carries data, 1 errors. */
const DATA_CHANNEL = 0;
const ERROR_CHANNEL = 1;

export const PORT_FORWARD_PATH = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/portforward$/;

export interface PortForwardRecord {
  namespace: string;
  pod: string;
  port: number;
  /** Date.now() when the WebSocket was accepted. */
  at: number;
}

/**
 * One accepted port-forward: the client's WebSocket on one side, a TCP connection to the pod's IP on
 * the other, as the API server and kubelet do it between them. Each channel's first frame is the
 * port number (2 bytes, little-endian); data frames are `[channel, ...bytes]`; either side ending
 * ends the other.
 */
class PortForwardSession {
  private readonly tcp: Socket;

  constructor(
    readonly record: PortForwardRecord,
    podIp: string,
    private readonly ws: WebSocket,
    onClosed: () => void,
  ) {
    for (const channel of [DATA_CHANNEL, ERROR_CHANNEL]) ws.send(portPrefix(channel, record.port));
    // net.Socket queues writes made while it is still connecting, so client data is never lost.
    this.tcp = connect({ host: podIp, port: record.port });
    this.tcp.on('data', (chunk: Buffer) => ws.send(Buffer.concat([Buffer.of(DATA_CHANNEL), chunk])));
    this.tcp.on('error', (error) => {
      const message = `error forwarding port ${record.port} to pod ${record.pod}: ${error.message}`;
      ws.send(Buffer.concat([Buffer.of(ERROR_CHANNEL), Buffer.from(message)]));
    });
    this.tcp.on('close', () => this.closeWebSocket());
    ws.on('message', (data) => {
      const frame = toBuffer(data);
      if (frame[0] === DATA_CHANNEL) this.tcp.write(frame.subarray(1));
    });
    ws.on('error', () => this.tcp.destroy());
    ws.on('close', () => {
      this.tcp.end();
      onClosed();
    });
  }

  /** An abrupt end on both sides: no close frame for the client, a reset for the pod. */
  destroy(): void {
    this.ws.terminate();
    this.tcp.destroy();
  }

  private closeWebSocket(): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.close(1000);
  }
}

/** The pods/portforward subresource: upgrade checks, sessions and their accounting. */
export class PortForwardEndpoint {
  /** Every session ever accepted, in order. */
  readonly history: PortForwardRecord[] = [];
  private readonly active = new Set<PortForwardSession>();
  private readonly wss = new WebSocketServer({
    noServer: true,
    handleProtocols: (offered) => (offered.has(PORT_FORWARD_PROTOCOL) ? PORT_FORWARD_PROTOCOL : false),
  });

  constructor(private readonly findPod: (namespace: string, name: string) => V1Pod | undefined) {}

  get activeCount(): number {
    return this.active.size;
  }

  /** Serves an upgrade whose path matched PORT_FORWARD_PATH, or answers it with a Status error. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, match: RegExpExecArray, query: Record<string, string>): void {
    const [, namespace, name] = match;
    const port = Number(query.ports);
    if (!Number.isInteger(port) || port < 1 || port > 65_535) {
      return rejectUpgrade(socket, kubeStatus(400, `invalid port "${query.ports ?? ''}": the fake API server forwards exactly one port`));
    }
    const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((protocol) => protocol.trim());
    if (!offered.includes(PORT_FORWARD_PROTOCOL)) {
      return rejectUpgrade(socket, kubeStatus(400, `the fake API server only speaks ${PORT_FORWARD_PROTOCOL}`));
    }
    const pod = this.findPod(namespace, name);
    if (!pod) return rejectUpgrade(socket, kubeStatus(404, `pods "${name}" not found`));
    const podIp = pod.status?.podIP;
    if (!podIp) return rejectUpgrade(socket, kubeStatus(400, `pod ${name} does not have a host assigned`));

    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const record: PortForwardRecord = { namespace, pod: name, port, at: Date.now() };
      this.history.push(record);
      const session = new PortForwardSession(record, podIp, ws, () => this.active.delete(session));
      this.active.add(session);
    });
  }

  /** Destroys every active session mid-stream, like an API server restart or a dropped LB connection. */
  dropAll(): void {
    this.active.forEach((session) => session.destroy());
    this.active.clear();
  }

  close(): void {
    this.dropAll();
    this.wss.close();
  }
}

/** Answers an upgrade request the way the API server answers a failed one: an HTTP error, no upgrade. */
export function rejectUpgrade(socket: Duplex, status: KubeStatus): void {
  const body = JSON.stringify(status);
  socket.end(
    [
      `HTTP/1.1 ${status.code} ${STATUS_CODES[status.code] ?? 'Error'}`,
      'Content-Type: application/json',
      `Content-Length: ${Buffer.byteLength(body)}`,
      'Connection: close',
      '',
      body,
    ].join('\r\n'),
  );
}

function portPrefix(channel: number, port: number): Buffer {
  const frame = Buffer.alloc(3);
  frame.writeUInt8(channel, 0);
  frame.writeUInt16LE(port, 1);
  return frame;
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
}
