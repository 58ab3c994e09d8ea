import { setTimeout as sleep } from 'node:timers/promises';
import type { BenchCredentials } from './bench-credentials.js';
import type { BenchProfile } from './bench-profile.js';
import { ChildLink } from './child-link.js';
import type { FleetInfo, FleetSpec, IstiodSpec } from './fleet-spec.js';
import { LOAD_COMMANDS, type LatencyJob, type LatencyResult, type VariantResult } from './load-jobs.js';
import { MAIN_THREAD, cpuSince, readSchedule, readThreadCpu, waitShare, type CpuReading, type ProcessMemory } from './proc-stats.js';
import { ProxyProcess } from './proxy-process.js';
import type { GoalResult, ScenarioResult, VariantReport } from './results.js';
import { ratio, summarize } from './stats.js';

const FLEET_START_TIMEOUT_MS = 120_000;
const CLIENT_START_TIMEOUT_MS = 30_000;
const PROXY_START_TIMEOUT_MS = 30_000;
/** What a client job may take beyond its own budget: the last in-flight request, then the reply. */
const JOB_GRACE_MS = 30_000;
/** x86-64 and arm64 Linux base page; huge pages would make minor-fault bytes an underestimate. */
const PAGE_BYTES = 4096;

export interface ScenarioContext {
  profile: BenchProfile;
  reps: number;
  credentials: BenchCredentials;
  /** Simulated istiods replay answers instead of rebuilding them (see memoized-istiod.ts). */
  memoizeAnswers: boolean;
  /** What istioctl sends by default: a ServiceAccount token for istio-system/default. */
  istioctlToken: string;
  /** dist-tools/tools/bench, where the fleet and load-client scripts are. */
  benchDir: string;
  mainJs: string;
  /** Node flags for the proxy process and the fleet process (e.g. --cpu-prof). */
  proxyNodeFlags: string[];
  /** Extra proxy environment (--proxy-env, experiments only); empty: the proxy as deployed. */
  proxyEnv: Record<string, string>;
  fleetNodeFlags: string[];
  verbose: boolean;
  /** Latest wall-clock time (ms since epoch) any job may still start work. */
  deadline: number;
  /**
   * Told, when an environment stops, the share of time each of its processes waited for a CPU while
   * it was in use (`proc-stats.ts` waitShare); the runner adds these to the scenario's metrics.
   */
  reportCpuWait?(shares: { proxy: number; fleet: number; client: number }): void;
  log(message: string): void;
}

/** The part of a ScenarioResult a scenario fills in; the runner adds id, title, duration. */
export type ScenarioOutcome = Omit<ScenarioResult, 'id' | 'title' | 'durationMs'>;

export interface Scenario {
  id: string;
  title: string;
  run(context: ScenarioContext): Promise<ScenarioOutcome>;
}

export interface Environment {
  istiods: FleetInfo['istiods'];
  fleet: ChildLink<FleetInfo>;
  proxy: ProxyProcess;
  /** The proxy's memory `profile.idleSettleMs` after it was ready, before the first request. */
  proxyIdle: ProcessMemory;
  /** V8's share of it, read right after (from the proxy's /metrics). */
  proxyIdleRuntime: { heapTotalBytes: number; heapUsedBytes: number; externalBytes: number };
  client: ChildLink<unknown>;
  /** Milliseconds a job may run: the scenario's budget, cut short by the global deadline. */
  budget(scenarioBudgetMs: number): number;
  runLatency(job: LatencyJob): Promise<LatencyResult>;
  call<Result>(command: string, job: unknown, budgetMs: number): Promise<Result>;
}

export interface EnvironmentOptions {
  istiods: IstiodSpec[];
  /** Which replicas the proxy fans out to; the rest are only there to be called directly. Default: all. */
  behindProxy?: (istiod: IstiodSpec) => boolean;
}

/**
 * Three processes per scenario: the istiod fleet, a fresh proxy (so its VmHWM belongs to this scenario
 * alone), and the load client. Everything is stopped whatever happens in `body`.
 */
export async function withEnvironment<T>(
  context: ScenarioContext,
  options: EnvironmentOptions,
  body: (environment: Environment) => Promise<T>,
): Promise<T> {
  const fleetSpec: FleetSpec = {
    istiods: options.istiods,
    tls: { certFile: context.credentials.istiodCertFile, keyFile: context.credentials.istiodKeyFile },
    memoizeAnswers: context.memoizeAnswers,
  };
  // The fleet and the load client start side by side (neither needs the other); the proxy needs the fleet.
  const [fleetStart, clientStart] = await Promise.allSettled([
    ChildLink.start<FleetInfo>(`${context.benchDir}/istiod-fleet.js`, fleetSpec, {
      label: 'istiod-fleet',
      readyTimeoutMs: FLEET_START_TIMEOUT_MS,
      forwardStderr: context.verbose,
      nodeFlags: context.fleetNodeFlags,
    }),
    ChildLink.start<unknown>(
      `${context.benchDir}/load-client.js`,
      {},
      { label: 'load-client', readyTimeoutMs: CLIENT_START_TIMEOUT_MS, forwardStderr: context.verbose },
    ),
  ]);
  if (fleetStart.status === 'rejected' || clientStart.status === 'rejected') {
    if (fleetStart.status === 'fulfilled') await fleetStart.value.stop().catch(() => undefined);
    if (clientStart.status === 'fulfilled') await clientStart.value.stop().catch(() => undefined);
    throw fleetStart.status === 'rejected' ? fleetStart.reason : (clientStart as PromiseRejectedResult).reason;
  }
  const fleet = fleetStart.value;
  const client = clientStart.value;
  let proxy: ProxyProcess | undefined;
  let cpuWait: (() => { proxy: number; fleet: number; client: number }) | undefined;
  try {
    const proxied = new Set(options.istiods.filter(options.behindProxy ?? (() => true)).map(({ name }) => name));
    proxy = await ProxyProcess.start({
      mainJs: context.mainJs,
      istiods: fleet.info.istiods.filter(({ name }) => proxied.has(name)),
      credentials: context.credentials,
      nodeFlags: context.proxyNodeFlags,
      env: context.proxyEnv,
      startTimeoutMs: PROXY_START_TIMEOUT_MS,
      forwardOutput: context.verbose,
    });
    await sleep(context.profile.idleSettleMs);
    const proxyIdle = proxy.memory();
    const proxyIdleRuntime = await proxy.runtimeMemory();
    const runningProxy = proxy;
    const schedule = () => ({ proxy: readSchedule(runningProxy.pid), fleet: readSchedule(fleet.pid), client: readSchedule(client.pid) });
    const scheduleBefore = schedule();
    cpuWait = () => {
      const after = schedule();
      return {
        proxy: waitShare(scheduleBefore.proxy, after.proxy),
        fleet: waitShare(scheduleBefore.fleet, after.fleet),
        client: waitShare(scheduleBefore.client, after.client),
      };
    };
    const budget = (scenarioBudgetMs: number) => Math.max(0, Math.min(scenarioBudgetMs, context.deadline - Date.now()));
    const call = <Result>(command: string, job: unknown, budgetMs: number) =>
      client.call<Result>(command, job, budgetMs + context.profile.requestTimeoutMs + JOB_GRACE_MS);
    return await body({
      istiods: fleet.info.istiods,
      fleet,
      proxy,
      proxyIdle,
      proxyIdleRuntime,
      client,
      budget,
      call,
      runLatency: (job) => call<LatencyResult>(LOAD_COMMANDS.latency, job, job.budgetMs),
    });
  } finally {
    if (cpuWait) context.reportCpuWait?.(cpuWait());
    const [, code] = await Promise.all([client.stop().catch(() => undefined), proxy?.stop().catch(() => undefined)]);
    if (code !== undefined && code !== 0 && code !== null) context.log(`proxy exited with ${code}\n${proxy?.outputTail ?? ''}`);
    await fleet.stop().catch(() => undefined);
  }
}

export function addressOf(environment: Environment, name: string): string {
  const istiod = environment.istiods.find((candidate) => candidate.name === name);
  if (!istiod) throw new Error(`the fleet has no istiod named ${name}`);
  return istiod.address;
}

export interface VariantRole {
  role: VariantReport['role'];
  description: string;
}

/** Latency reports with every non-baseline variant's ratios against `baselineLabel`. */
export function reportVariants(results: VariantResult[], roles: Record<string, VariantRole>, baselineLabel: string): VariantReport[] {
  const reports = results.map((result): VariantReport => ({
    label: result.label,
    role: roles[result.label]?.role ?? 'subject',
    description: roles[result.label]?.description ?? '',
    latency: summarize(result.samplesMs),
    repMediansMs: result.repMediansMs.map((value) => Math.round(value * 1000) / 1000),
    errors: result.errors,
    errorMessages: result.errorMessages,
    resources: result.resources,
    resourceBytes: result.resourceBytes,
  }));
  const baseline = reports.find((report) => report.label === baselineLabel);
  for (const report of reports) {
    if (!baseline || report === baseline) continue;
    report.baseline = baselineLabel;
    report.p50Ratio = ratio(report.latency.medianMs, baseline.latency.medianMs);
    report.p99Ratio = ratio(report.latency.p99Ms, baseline.latency.p99Ms);
  }
  return reports;
}

export function variant(reports: VariantReport[], label: string): VariantReport {
  const found = reports.find((report) => report.label === label);
  if (!found) throw new Error(`no variant ${label} was measured`);
  return found;
}

/** A goal `measured ≤ limit`; NaN (nothing measured) never passes. */
export function atMost(id: string, description: string, measured: number, limit: number, unit = ''): GoalResult {
  return {
    id,
    description,
    measured,
    unit,
    target: `≤ ${limit}${unit ? ` ${unit}` : ''}`,
    pass: Number.isFinite(measured) && measured <= limit,
  };
}

/** A goal `measured ≥ floor`. */
export function atLeast(id: string, description: string, measured: number, floor: number, unit = ''): GoalResult {
  return {
    id,
    description,
    measured,
    unit,
    target: `≥ ${floor}${unit ? ` ${unit}` : ''}`,
    pass: Number.isFinite(measured) && measured >= floor,
  };
}

/**
 * Warm-up as a job of its own, then the measured operations with the proxy's CPU time (user + system,
 * /proc/<pid>/stat) read just before and after: `proxyCpuMs` covers the measured phase only.
 */
export async function measureLatency(
  environment: Environment,
  job: LatencyJob,
): Promise<{ result: LatencyResult; proxyCpuMs: number; proxyCpu: CpuReading; mainThreadShare: number }> {
  const deadline = Date.now() + job.budgetMs;
  if (job.warmupOps > 0) await environment.runLatency({ ...job, reps: 0 });
  const before = environment.proxy.cpu();
  const threadsBefore = readThreadCpu(environment.proxy.pid);
  const result = await environment.runLatency({ ...job, warmupOps: 0, budgetMs: Math.max(0, deadline - Date.now()) });
  const proxyCpu = cpuSince(before, environment.proxy.cpu());
  const threadsAfter = readThreadCpu(environment.proxy.pid);
  const proxyCpuMs = proxyCpu.userMs + proxyCpu.systemMs;
  // The main thread runs JavaScript; the rest is V8's GC/JIT helpers and libuv's pool.
  const mainThreadShare = ratio((threadsAfter[MAIN_THREAD] ?? Number.NaN) - (threadsBefore[MAIN_THREAD] ?? Number.NaN), proxyCpuMs);
  return { result, proxyCpuMs, proxyCpu, mainThreadShare };
}

/**
 * Where a proxy's CPU went, per request: the main thread's and the kernel's shares, and the memory it
 * touched for the first time (minor faults × page size: pages of fresh buffers, mapped in one by one).
 * Shares are left out when no CPU time was measured (tiny smoke runs), never reported as NaN.
 */
export function cpuBreakdown(cpu: CpuReading, mainThreadShare: number, requests: number, pageBytes = PAGE_BYTES): Record<string, number> {
  const n = Math.max(1, requests);
  const metrics: Record<string, number> = {
    proxyMainThreadCpuShare: mainThreadShare,
    proxySystemCpuShare: ratio(cpu.systemMs, cpu.userMs + cpu.systemMs),
    proxyMinorFaultsPerRequest: Math.round(cpu.minorFaults / n),
    proxyFirstTouchPerRequestBytes: Math.round((cpu.minorFaults * pageBytes) / n),
  };
  return measuredOnly(metrics);
}

/** The metrics that could be measured: breakdowns missing a source (no /proc, no /metrics) are left out, never NaN. */
export function measuredOnly(metrics: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(metrics).filter(([, value]) => Number.isFinite(value)));
}

/** Requests a variant made in the measured phase: answered (samples) and failed. */
export function attempts(report: VariantReport): number {
  return report.latency.count + report.errors;
}

/** A goal `low ≤ measured ≤ high`. */
export function within(id: string, description: string, measured: number, low: number, high: number, unit = ''): GoalResult {
  return {
    id,
    description,
    measured,
    unit,
    target: `${low}–${high}${unit ? ` ${unit}` : ''}`,
    pass: Number.isFinite(measured) && measured >= low && measured <= high,
  };
}

/** Requests that failed make a latency meaningless; every latency scenario also requires none. */
export function noErrors(reports: VariantReport[]): GoalResult {
  const errors = reports.reduce((sum, report) => sum + report.errors, 0);
  return atMost('errors', 'failed or incomplete answers (all variants)', errors, 0);
}

/** A latency job with the profile's usual settings: the istioctl token, warm-up, repetitions, timeout and budget. */
export function latencyJob(
  context: ScenarioContext,
  environment: Environment,
  sizes: { opsPerRep: number; budgetMs: number },
  variants: LatencyJob['variants'],
): LatencyJob {
  return {
    variants,
    token: context.istioctlToken,
    warmupOps: context.profile.warmupOps,
    reps: context.reps,
    opsPerRep: sizes.opsPerRep,
    timeoutMs: context.profile.requestTimeoutMs,
    budgetMs: environment.budget(sizes.budgetMs),
  };
}

/** One ProxyGroupSpec-carrying replica spec per index, named `<prefix>-<i>`. */
export function replicas(count: number, prefix: string, proxiesEach: number, delayMs: (index: number) => number): IstiodSpec[] {
  return Array.from({ length: count }, (_, index) => ({
    name: `istiod-${prefix}-${index}`,
    delayMs: delayMs(index),
    proxyGroups: [{ prefix: `${prefix}-${index}`, namespace: 'bench', count: proxiesEach }],
  }));
}

/**
 * The informational baseline every fan-out scenario adds: the client asks every replica at once
 * itself. On one machine with every replica in one process, that is the best any fan-out can do, so
 * proxy / client-parallel isolates the proxy's own cost from the harness's.
 */
export const CLIENT_PARALLEL_DESCRIPTION = (istiods: number) =>
  `istioctl-side parallel calls to all ${istiods} istiods (a zero-cost proxy on this machine)`;
