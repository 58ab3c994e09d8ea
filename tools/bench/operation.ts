import { status as GrpcStatus } from '@grpc/grpc-js';
import type { DiscoveryResponse, ProtoAny } from '../../src/common/xds-types.js';
import { IstioctlConnection } from './istioctl-connection.js';
import type { FanoutMode, RequestSpec } from './load-jobs.js';

const KEPT_ERROR_MESSAGES = 5;

export interface OperationOutcome {
  elapsedMs: number;
  resources: number;
  resourceBytes: number;
}

/** One connection per address and token, kept for the client process's life so measurements are warm. */
export class ConnectionPool {
  private readonly connections = new Map<string, IstioctlConnection>();

  get(address: string, token: string): IstioctlConnection {
    const key = `${address} ${token}`;
    let connection = this.connections.get(key);
    if (!connection) this.connections.set(key, (connection = new IstioctlConnection(address, token)));
    return connection;
  }

  closeAll(): void {
    for (const connection of this.connections.values()) connection.close();
    this.connections.clear();
  }
}

/**
 * Asks every address (one address: a plain request), one after another or all at once, and checks
 * the answers are complete, so a fast but partial answer can never pass for a fast one.
 */
export async function runOperation(
  connectionFor: (address: string) => IstioctlConnection,
  addresses: string[],
  request: RequestSpec,
  timeoutMs: number,
  mode: FanoutMode = 'sequential',
): Promise<OperationOutcome> {
  const ask = (address: string) => connectionFor(address).request(request.typeUrl, request.resourceNames, timeoutMs);
  const started = performance.now();
  const responses: DiscoveryResponse[] = [];
  if (mode === 'parallel') responses.push(...(await Promise.all(addresses.map(ask))));
  else for (const address of addresses) responses.push(await ask(address));
  const elapsedMs = performance.now() - started;
  const resources = responses.reduce((sum, response) => sum + response.resources.length, 0);
  const resourceBytes = responses.reduce((sum, response) => sum + encodedResourcesSize(response), 0);
  if (resources < request.minResources) {
    throw new Error(`incomplete answer: ${resources} resources, expected at least ${request.minResources}`);
  }
  return { elapsedMs, resources, resourceBytes };
}

/** Bytes `repeated google.protobuf.Any resources = 2` takes on the wire, computed from the decoded Anys. */
export function encodedResourcesSize(response: DiscoveryResponse): number {
  return response.resources.reduce((total, resource) => total + lengthDelimitedSize(anySize(resource)), 0);
}

function anySize({ type_url, value }: ProtoAny): number {
  return lengthDelimitedSize(Buffer.byteLength(type_url)) + lengthDelimitedSize(value.length);
}

/** One-byte tag + varint length + payload. */
function lengthDelimitedSize(length: number): number {
  return 1 + varintSize(length) + length;
}

function varintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 0x80);
    size++;
  }
  return size;
}

/** Counts failures (in all and by gRPC status) and keeps the first few distinct messages for the report. */
export class ErrorLog {
  count = 0;
  readonly messages: string[] = [];
  /** `RESOURCE_EXHAUSTED`, `UNAVAILABLE`, ...; `other` for failures without a status (timeouts, incomplete answers). */
  readonly codes: Record<string, number> = {};

  record(err: unknown): void {
    this.count++;
    const message = err instanceof Error ? err.message : String(err);
    if (this.messages.length < KEPT_ERROR_MESSAGES && !this.messages.includes(message)) this.messages.push(message);
    const code = statusName(err);
    this.codes[code] = (this.codes[code] ?? 0) + 1;
  }
}

function statusName(err: unknown): string {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' ? (GrpcStatus[code] ?? `code ${code}`) : 'other';
}
