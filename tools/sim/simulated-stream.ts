import { setTimeout as sleep } from 'node:timers/promises';
import { status, type Metadata, type ServerDuplexStream } from '@grpc/grpc-js';
import type { DiscoveryRequest, DiscoveryResponse, XdsNode } from '../../src/common/xds-types.js';
import { answerDelayMs } from './debug-generators.js';
import type { SimulatorKnobs } from './simulator-knobs.js';
import { authorizeNode, validateNode, type CallerIdentity } from './xds-node.js';
import { XdsStatusError } from './xds-status.js';

export type AdsCall = ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>;

/** What the simulator observed on one StreamAggregatedResources call. */
export interface StreamRecord {
  metadata: Record<string, string>;
  node: XdsNode | null;
  requests: DiscoveryRequest[];
  identity?: CallerIdentity;
}

/** The replica-wide parts a stream needs: checks done once per stream, and answers. */
export interface StreamHost {
  readonly knobs: SimulatorKnobs;
  /** Stream-start checks (readiness, rate limit, clusterid, token); throws XdsStatusError. */
  admit(metadata: Metadata): Promise<CallerIdentity | undefined>;
  /** Builds the answer to one request; throws XdsStatusError for the error-table rows. */
  answer(request: DiscoveryRequest, caller: CallerIdentity | undefined): DiscoveryResponse;
  /** Tears down the TCP connection the call arrived on. */
  resetConnection(call: AdsCall): void;
}

function flattenMetadata(metadata: Metadata): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [key, value] of Object.entries(metadata.getMap())) {
    flat[key] = typeof value === 'string' ? value : value.toString('base64');
  }
  return flat;
}

/**
 * One ADS stream as istiod's `Stream`/`processRequest` runs it: admission before reading, node
 * checks on the first request, then one answer per request in order; it ends only on an error (or
 * when the client half-closes), never on its own.
 */
export class SimulatedStream {
  readonly record: StreamRecord;
  private pending: Promise<void>;
  private ended = false;

  constructor(
    private readonly call: AdsCall,
    private readonly host: StreamHost,
  ) {
    this.record = { metadata: flattenMetadata(call.metadata), node: null, requests: [] };
    this.pending = this.admit();
    call.on('data', (request: DiscoveryRequest) => {
      this.record.requests.push(request);
      this.enqueue(() => this.handle(request));
    });
    call.on('end', () => this.enqueue(() => this.halfClosed()));
    call.on('cancelled', () => (this.ended = true));
  }

  private enqueue(step: () => Promise<void> | void): void {
    this.pending = this.pending.then(() => (this.ended ? undefined : step()));
  }

  private async admit(): Promise<void> {
    try {
      this.record.identity = await this.host.admit(this.call.metadata);
    } catch (error) {
      this.fail(error);
    }
  }

  private async handle(request: DiscoveryRequest): Promise<void> {
    const { knobs } = this.host;
    if (knobs.hang) return;
    const busyMs = knobs.delayMs + answerDelayMs(request);
    if (busyMs > 0) await sleep(busyMs);
    if (this.ended) return;
    if (knobs.resetMidAnswer) {
      this.ended = true;
      this.host.resetConnection(this.call);
      return;
    }
    try {
      if (!this.record.node) {
        const node = validateNode(request.node);
        authorizeNode(node, this.record.identity);
        this.record.node = node;
      }
      this.call.write(this.host.answer(request, this.record.identity));
    } catch (error) {
      this.fail(error);
    }
  }

  /** istiod returns from `Stream` with OK once Recv reports EOF; a hanging replica never does. */
  private halfClosed(): void {
    if (this.host.knobs.hang) return;
    this.ended = true;
    this.call.end();
  }

  private fail(error: unknown): void {
    if (this.ended) return;
    this.ended = true;
    const statusError =
      error instanceof XdsStatusError ? error : new XdsStatusError(status.INTERNAL, `simulated istiod bug: ${String(error)}`);
    this.call.emit('error', statusError);
  }
}
