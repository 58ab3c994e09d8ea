/** Sizes of every scenario: `full` is the benchmark, `smoke` proves the code path in seconds. */
/** What every scenario sizes: replicas, simulated proxies on each, and its time budget. */
export interface MeshSizes {
  istiods: number;
  proxiesEach: number;
  budgetMs: number;
}

export interface BenchProfile {
  name: 'full' | 'smoke';
  reps: number;
  warmupOps: number;
  /** istioctl's own default wait for an answer. */
  requestTimeoutMs: number;
  /**
   * How long after /healthz turns ready every scenario reads the proxy's idle memory (the baseline
   * of "above idle"): upstream connections and startup garbage have settled, no request was made.
   */
  idleSettleMs: number;
  fanout: MeshSizes & { delayMs: number; opsPerRep: number };
  /** `callers`: distinct callers asking for the large mesh at once after the latency phase, min(reps, callerRounds) rounds. */
  largeMesh: MeshSizes & { opsPerRep: number; callers: number; callerRounds: number };
  concurrency: MeshSizes & { concurrency: number; requestsPerStream: number; warmupPerStream: number };
  coalescing: MeshSizes & { delayMs: number; burst: number };
  configDump: MeshSizes & { othersDelayMs: number; holderDelayMs: number; opsPerRep: number };
}

export const FULL_PROFILE: BenchProfile = {
  name: 'full',
  reps: 5,
  warmupOps: 3,
  requestTimeoutMs: 30_000,
  idleSettleMs: 1_000,
  fanout: { istiods: 10, proxiesEach: 50, delayMs: 20, opsPerRep: 10, budgetMs: 180_000 },
  largeMesh: { istiods: 20, proxiesEach: 1_000, opsPerRep: 1, callers: 5, callerRounds: 3, budgetMs: 300_000 },
  concurrency: { istiods: 5, proxiesEach: 20, concurrency: 200, requestsPerStream: 20, warmupPerStream: 1, budgetMs: 180_000 },
  coalescing: { istiods: 3, proxiesEach: 50, delayMs: 20, burst: 100, budgetMs: 120_000 },
  configDump: { istiods: 10, proxiesEach: 50, othersDelayMs: 5, holderDelayMs: 20, opsPerRep: 10, budgetMs: 120_000 },
};

export const SMOKE_PROFILE: BenchProfile = {
  name: 'smoke',
  reps: 1,
  warmupOps: 1,
  requestTimeoutMs: 10_000,
  idleSettleMs: 100,
  fanout: { istiods: 2, proxiesEach: 3, delayMs: 2, opsPerRep: 2, budgetMs: 20_000 },
  largeMesh: { istiods: 2, proxiesEach: 20, opsPerRep: 1, callers: 2, callerRounds: 1, budgetMs: 20_000 },
  concurrency: { istiods: 2, proxiesEach: 3, concurrency: 5, requestsPerStream: 3, warmupPerStream: 1, budgetMs: 20_000 },
  coalescing: { istiods: 2, proxiesEach: 3, delayMs: 5, burst: 5, budgetMs: 20_000 },
  configDump: { istiods: 2, proxiesEach: 3, othersDelayMs: 1, holderDelayMs: 2, opsPerRep: 2, budgetMs: 20_000 },
};
