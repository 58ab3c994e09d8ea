/** The work the runner hands to the load client process, and what comes back. */

export interface RequestSpec {
  typeUrl: string;
  resourceNames: string[];
  /** An answer with fewer resources (summed over a sequential fan-out) counts as an error. */
  minResources: number;
}

/**
 * One way of getting an answer: one address, or several asked by the client itself, one after another
 * (`sequential`, what the Go sample does) or all at once (`parallel`, a proxy that costs nothing).
 */
export interface VariantSpec {
  label: string;
  addresses: string[];
  mode?: FanoutMode;
  request: RequestSpec;
}

export type FanoutMode = 'sequential' | 'parallel';

export interface LatencyJob {
  variants: VariantSpec[];
  /** The caller's bearer token (sent to the proxy and, like istioctl does, to istiods called directly). */
  token: string;
  warmupOps: number;
  reps: number;
  /** Operations per variant per repetition; variants take turns operation by operation. */
  opsPerRep: number;
  timeoutMs: number;
  /** Stop starting operations after this long; the result is then marked truncated. */
  budgetMs: number;
}

export interface VariantResult {
  label: string;
  samplesMs: number[];
  repMediansMs: number[];
  errors: number;
  errorMessages: string[];
  /** Of the last successful operation. */
  resources: number;
  /** Encoded size of the last successful answer's resources (summed over a sequential fan-out). */
  resourceBytes: number;
}

export interface LatencyResult {
  variants: VariantResult[];
  truncated: boolean;
}

export interface ConcurrencyJob {
  address: string;
  request: RequestSpec;
  /**
   * One token per concurrent istioctl user; each user has its own channel (a distinct channel option
   * and a local subchannel pool, so grpc-js never shares a connection between two users).
   */
  tokens: string[];
  /** Instead of `address`: each user asks all of these at once itself (a zero-cost proxy), on connections of its own. */
  fanout?: string[];
  /** Requests each user makes one after another (each on a new stream, as istioctl does). */
  requestsPerStream: number;
  warmupPerStream: number;
  timeoutMs: number;
  budgetMs: number;
}

export interface ConcurrencyResult {
  samplesMs: number[];
  errors: number;
  errorMessages: string[];
  /** Failures by gRPC status name (`RESOURCE_EXHAUSTED`: a proxy limit refused the request), or `other`. */
  errorCodes: Record<string, number>;
  /** From the first measured request's start to the last one's end. */
  wallMs: number;
  /** Encoded size of the last complete answer's resources. */
  resourceBytes: number;
  /** Established TCP connections to the proxy's port once every user is connected (NaN without /proc). */
  connections: number;
  truncated: boolean;
}

export interface BurstJob {
  address: string;
  request: RequestSpec;
  /** Identical requests started at once on one connection (one caller). */
  count: number;
  token: string;
  timeoutMs: number;
}

export interface BurstResult {
  samplesMs: number[];
  errors: number;
  errorMessages: string[];
  wallMs: number;
}

export const LOAD_COMMANDS = { latency: 'latency', concurrency: 'concurrency', burst: 'burst' } as const;
