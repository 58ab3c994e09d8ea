import type { DiscoveryResponse, ProtoAny } from '../common/xds-types.js';
import { IstioctlConnection } from './istioctl-connection.js';
import type { RequestSpec } from './load-jobs.js';

const KEPT_ERROR_MESSAGES = 5;

export interface OperationOutcome {
  elapsedMs: number;
  resources: number;
  resourceBytes: number;
}

/** One connection per address, kept for the client process's life so every measurement is warm. */
export class ConnectionPool {
  private readonly connections = new Map<string, IstioctlConnection>();

  get(address: string): IstioctlConnection {
    let connection = this.connections.get(address);
    if (!connection) this.connections.set(address, (connection = new IstioctlConnection(address)));
    return connection;
  }

  closeAll(): void {
    for (const connection of this.connections.values()) connection.close();
    this.connections.clear();
  }
}

/**
 * Asks each address in turn (one address: a plain request) and checks the answer is complete, so a
 * fast but partial answer can never pass for a fast one.
 */
export async function runOperation(
  connectionFor: (address: string) => IstioctlConnection,
  addresses: string[],
  request: RequestSpec,
  timeoutMs: number,
): Promise<OperationOutcome> {
  const started = performance.now();
  let resources = 0;
  let resourceBytes = 0;
  for (const address of addresses) {
    const response = await connectionFor(address).request(request.typeUrl, request.resourceNames, timeoutMs);
    resources += response.resources.length;
    resourceBytes += encodedResourcesSize(response);
  }
  const elapsedMs = performance.now() - started;
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

/** Counts failures and keeps the first few distinct messages for the report. */
export class ErrorLog {
  count = 0;
  readonly messages: string[] = [];

  record(err: unknown): void {
    this.count++;
    const message = err instanceof Error ? err.message : String(err);
    if (this.messages.length < KEPT_ERROR_MESSAGES && !this.messages.includes(message)) this.messages.push(message);
  }
}
