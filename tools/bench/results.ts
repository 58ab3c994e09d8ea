import type { LatencySummary } from './stats.js';

/** The shape of bench/results/<timestamp>.json (and latest.json). */
export interface BenchResults {
  schemaVersion: 1;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  profile: string;
  reps: number;
  /** --proxy-env: set only for experiments with a changed proxy environment. */
  proxyEnv?: Record<string, string>;
  machine: MachineDescription;
  scenarios: ScenarioResult[];
  goals: { passed: number; failed: number };
}

export interface MachineDescription {
  cpuModel: string;
  cores: number;
  memoryBytes: number;
  node: string;
  platform: string;
  release: string;
  arch: string;
  /** CPU ms per MiB written into fresh (first-touch) and reused memory, measured at the start of the run. */
  memoryWriteCost?: { freshMsPerMiB: number; reusedMsPerMiB: number };
  /** os.loadavg() (1, 5, 15 min) when the run started: other work on the machine competes for its cores. */
  loadAverageAtStart?: number[];
}

export interface ScenarioResult {
  id: string;
  title: string;
  durationMs: number;
  /** The sizes the scenario ran with. */
  params: Record<string, number | string>;
  variants: VariantReport[];
  /** Scenario-specific numbers: throughput, peak RSS, upstream request counts, ... */
  metrics: Record<string, number>;
  goals: GoalResult[];
  notes: string[];
  /** Set when the bench itself broke (a process did not start, a job timed out): no goal is judged. */
  error?: string;
}

export interface VariantReport {
  label: string;
  role: 'subject' | 'baseline';
  description: string;
  latency: LatencySummary;
  repMediansMs: number[];
  errors: number;
  errorMessages: string[];
  resources: number;
  resourceBytes: number;
  /** This variant's median / the scenario baseline's median (and p99 / p99), both measured in this run. */
  p50Ratio?: number;
  p99Ratio?: number;
  baseline?: string;
}

export interface GoalResult {
  id: string;
  description: string;
  measured: number;
  unit: string;
  /** Human-readable target, e.g. `≤ 1.15`. */
  target: string;
  pass: boolean;
}
