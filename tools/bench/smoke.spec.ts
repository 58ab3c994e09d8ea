import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BenchResults } from './results.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const runJs = join(repoRoot, 'dist-tools/tools/bench/run.js');
const SCENARIO_IDS = ['fanout', 'large-mesh', 'concurrency', 'coalescing', 'config-dump'];
const SMOKE_TIMEOUT_MS = 150_000;

interface Finished {
  code: number | null;
  output: string;
}

function runBench(args: string[]): Promise<Finished> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [runJs, ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), SMOKE_TIMEOUT_MS - 5_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

const isFiniteNumber = (value: unknown) => typeof value === 'number' && Number.isFinite(value);

// The built bench (npm test builds first) on tiny sizes: proves every scenario's processes, jobs and
// reports work end to end. It asserts shapes, never timings: goals may PASS or FAIL here.
describe('npm run bench --smoke (dist-tools/tools/bench/run.js)', () => {
  let outDir: string;
  let run: Finished;
  let results: BenchResults;

  beforeAll(async () => {
    outDir = mkdtempSync(join(tmpdir(), 'istioctl-proxy-bench-smoke-'));
    run = await runBench(['--smoke', '--out-dir', outDir, '--markdown', join(outDir, 'BENCHMARKS.md')]);
    if (existsSync(join(outDir, 'latest.json'))) results = JSON.parse(readFileSync(join(outDir, 'latest.json'), 'utf8')) as BenchResults;
  }, SMOKE_TIMEOUT_MS);
  afterAll(() => rmSync(outDir, { recursive: true, force: true }));

  it('exits 0, prints the summary table and writes <timestamp>.json and latest.json to --out-dir', () => {
    expect(run.code, run.output).toBe(0);
    expect(run.output).toMatch(/scenario\s+goal\s+measured\s+target\s+result/);
    expect(run.output).toMatch(/\d+ goals passed, \d+ failed/);
    const files = readdirSync(outDir).filter((name) => name.endsWith('.json'));
    expect(files).toContain('latest.json');
    expect(files.filter((name) => name !== 'latest.json')).toHaveLength(1);
  });

  it('runs every scenario without breaking and describes the machine', () => {
    expect(results.profile).toBe('smoke');
    expect(results.scenarios.map(({ id }) => id)).toEqual(SCENARIO_IDS);
    for (const scenario of results.scenarios) expect(scenario.error, scenario.id).toBeUndefined();
    expect(results.machine.cores).toBeGreaterThan(0);
    expect(results.machine.memoryBytes).toBeGreaterThan(0);
    expect(results.machine.node).toBe(process.version);
    expect(results.machine.cpuModel).not.toBe('');
  });

  it('reports finite latencies for every variant and ratios against the same-run baseline', () => {
    for (const scenario of results.scenarios) {
      expect(scenario.variants.length, scenario.id).toBeGreaterThan(0);
      for (const variant of scenario.variants) {
        const where = `${scenario.id}/${variant.label}`;
        expect(variant.latency.count, where).toBeGreaterThan(0);
        for (const value of [variant.latency.medianMs, variant.latency.p99Ms, variant.latency.meanMs])
          expect(isFiniteNumber(value), where).toBe(true);
        expect(variant.latency.p99Ms, where).toBeGreaterThanOrEqual(variant.latency.medianMs);
        if (variant.baseline) {
          expect(isFiniteNumber(variant.p50Ratio), where).toBe(true);
          expect(isFiniteNumber(variant.p99Ratio), where).toBe(true);
        }
      }
    }
    for (const id of ['fanout', 'large-mesh', 'config-dump']) {
      const proxy = results.scenarios.find((scenario) => scenario.id === id)!.variants.find(({ label }) => label === 'proxy')!;
      expect(proxy.baseline, id).toBe('direct');
    }
  });

  it('judges every goal on a finite measurement, and every metric is a finite number', () => {
    for (const scenario of results.scenarios) {
      expect(scenario.goals.length, scenario.id).toBeGreaterThan(0);
      for (const goal of scenario.goals) {
        expect(isFiniteNumber(goal.measured), `${scenario.id}/${goal.id}`).toBe(true);
        expect(typeof goal.pass).toBe('boolean');
      }
      for (const [name, value] of Object.entries(scenario.metrics)) expect(isFiniteNumber(value), `${scenario.id}/${name}`).toBe(true);
    }
    const largeMesh = results.scenarios.find(({ id }) => id === 'large-mesh')!;
    expect(largeMesh.metrics.proxyPeakRssBytes).toBeGreaterThan(0);
    expect(largeMesh.metrics.mergedResourceBytes).toBeGreaterThan(0);
    expect(largeMesh.metrics.proxyIdleRssBytes).toBeGreaterThan(0);
    expect(largeMesh.metrics.callersCompleteAnswers).toBe(largeMesh.metrics.callersAnswers);
    // Every concurrent user on a connection of its own (counted in the client's /proc).
    const concurrency = results.scenarios.find(({ id }) => id === 'concurrency')!;
    expect(concurrency.metrics.clientConnections).toBe(concurrency.metrics.users);
    const coalescing = results.scenarios.find(({ id }) => id === 'coalescing')!;
    expect(coalescing.metrics.maxUpstreamRequestsPerIstiod).toBeGreaterThan(0);
    const totals = results.goals.passed + results.goals.failed;
    expect(totals).toBe(results.scenarios.reduce((sum, scenario) => sum + scenario.goals.length, 0));
  });

  it('updates the Markdown summary given with --markdown (never the repository one)', () => {
    const markdown = readFileSync(join(outDir, 'BENCHMARKS.md'), 'utf8');
    expect(markdown).toContain('<!-- bench:results:start -->');
    expect(markdown).toContain('| Scenario | Goal | Measured | Target | Result |');
    expect(markdown).toContain(`| Node.js | ${process.version} |`);
  });
});
