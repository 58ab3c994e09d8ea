import type { ServerResponse } from 'node:http';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { KubeEvent, KubeResource } from './fake-kube-store.js';
import { KINDS } from './fake-kube-store.js';

export type WatchEventType = KubeEvent['type'] | 'BOOKMARK' | 'ERROR';

/** A Kubernetes `Status` body, used both as an HTTP error response and inside ERROR watch events. */
export interface KubeStatus {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure';
  message: string;
  reason: string;
  code: number;
}

const REASONS: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  410: 'Expired',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
};

export function kubeStatus(code: number, message: string): KubeStatus {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason: REASONS[code] ?? 'Unknown', code };
}

export function sendJson(res: ServerResponse, statusCode: number, body: unknown): void {
  res.writeHead(statusCode, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/**
 * One open watch response: newline-delimited JSON events on a chunked 200, the way the API server
 * streams them. Headers go out immediately because client-node's `Watch.watch()` only resolves
 * (and so `informer.start()` only returns) once the response headers arrive.
 */
export class WatchStream {
  constructor(
    private readonly res: ServerResponse,
    readonly resource: KubeResource,
    private readonly matches: (object: KubernetesObject) => boolean,
    readonly wantsBookmarks: boolean,
  ) {
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
  }

  get closed(): boolean {
    return this.res.writableEnded || this.res.destroyed;
  }

  /**
   * Filters like the API server's watch cache: an object that starts matching the selector arrives
   * as ADDED, one that stops matching as DELETED (its previous state at the new resourceVersion).
   */
  deliver(event: KubeEvent): void {
    if (event.resource !== this.resource) return;
    const matchesNow = this.matches(event.object);
    const matchedBefore = event.previous !== undefined && this.matches(event.previous);
    if (event.type !== 'MODIFIED') {
      if (matchesNow) this.send(event.type, event.object);
    } else if (matchesNow) {
      this.send(matchedBefore ? 'MODIFIED' : 'ADDED', event.object);
    } else if (matchedBefore && event.previous) {
      const metadata = { ...event.previous.metadata, resourceVersion: event.object.metadata?.resourceVersion };
      this.send('DELETED', { ...event.previous, metadata });
    }
  }

  bookmark(resourceVersion: number): void {
    const { kind } = KINDS[this.resource];
    this.send('BOOKMARK', { apiVersion: 'v1', kind, metadata: { resourceVersion: String(resourceVersion) } });
  }

  /** What the API server sends when the requested resourceVersion has been compacted away. */
  expire(resourceVersion: number | undefined): void {
    const message = `too old resource version: ${resourceVersion ?? ''}`.trim();
    this.send('ERROR', kubeStatus(410, message));
    this.end();
  }

  send(type: WatchEventType, object: KubernetesObject | KubeStatus): void {
    if (!this.closed) this.res.write(`${JSON.stringify({ type, object })}\n`);
  }

  /** A clean end of stream: the client sees a normal close and re-watches from its last version. */
  end(): void {
    if (!this.closed) this.res.end();
  }

  /** An abrupt TCP reset mid-stream, like a load balancer or API server crash. */
  drop(): void {
    this.res.socket?.destroy();
    this.res.destroy();
  }
}
