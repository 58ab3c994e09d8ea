import { mkdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createBenchCredentials } from './bench-credentials.js';
import { FULL_PROFILE, SMOKE_PROFILE, type BenchProfile } from './bench-profile.js';
import { describeMachine } from './machine.js';
import { summaryText, updateMarkdown, writeResults } from './report.js';
import type { BenchResults, ScenarioResult } from './results.js';
import type { Scenario, ScenarioContext } from './scenario.js';
import { coalescingScenario } from './scenarios/coalescing.scenario.js';
import { concurrencyScenario } from './scenarios/concurrency.scenario.js';
import { configDumpLookupScenario } from './scenarios/config-dump-lookup.scenario.js';
import { fanoutOverheadScenario } from './scenarios/fanout-overhead.scenario.js';
import { largeMeshScenario } from './scenarios/large-mesh.scenario.js';

const SCENARIOS: Scenario[] = [
  fanoutOverheadScenario,
  largeMeshScenario,
  concurrencyScenario,
  coalescingScenario,
  configDumpLookupScenario,
];
/** Compiled to dist-tools/tools/bench/run.js: three levels below the repository root. */
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url));
const DEFAULT_TIME_LIMIT_S = { full: 900, smoke: 120 };
const EXIT_BROKEN = 1;
const EXIT_USAGE = 2;

const USAGE = `usage: node dist-tools/tools/bench/run.js [options]   (npm run bench -- [options])
  --only <ids>          comma-separated scenarios: ${SCENARIOS.map(({ id }) => id).join(', ')}
  --reps <n>            measured repetitions per scenario (default 5, at least 1)
  --smoke               tiny sizes, 1 repetition: checks the bench works, measures nothing
  --out-dir <dir>       results directory (default tools/bench/results)
  --markdown <file>     update this Markdown summary (default BENCHMARKS.md on full runs of every scenario)
  --no-markdown         write no Markdown
  --time-limit-s <s>    global time budget (default ${DEFAULT_TIME_LIMIT_S.full}, smoke ${DEFAULT_TIME_LIMIT_S.smoke})
  --profile-proxy       run the proxy with --cpu-prof; profiles go to <out-dir>/profiles/
  --profile-fleet       the same for the simulated istiods' process
  --no-memoize          simulated istiods rebuild every answer (see tools/bench/memoized-istiod.ts)
  --proxy-env <K=V>     extra environment for the proxy, repeatable: experiments only (the run is
                        then never written to BENCHMARKS.md; results record it)
  --verbose             show the child processes' logs
Exits 0 when every scenario ran (goals may still FAIL: they are measurements), 1 when the bench broke.`;

interface RunOptions {
  scenarios: Scenario[];
  profile: BenchProfile;
  reps: number;
  outDir: string;
  markdown?: string;
  timeLimitMs: number;
  profileProxy: boolean;
  profileFleet: boolean;
  memoizeAnswers: boolean;
  proxyEnv: Record<string, string>;
  verbose: boolean;
}

class UsageError extends Error {}

function parseOptions(argv: string[]): RunOptions | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      only: { type: 'string', multiple: true },
      reps: { type: 'string' },
      smoke: { type: 'boolean', default: false },
      'out-dir': { type: 'string' },
      markdown: { type: 'string' },
      'no-markdown': { type: 'boolean', default: false },
      'time-limit-s': { type: 'string' },
      'profile-proxy': { type: 'boolean', default: false },
      'profile-fleet': { type: 'boolean', default: false },
      'no-memoize': { type: 'boolean', default: false },
      'proxy-env': { type: 'string', multiple: true },
      verbose: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return undefined;
  const profile = values.smoke ? SMOKE_PROFILE : FULL_PROFILE;
  const only = (values.only ?? [])
    .flatMap((list) => list.split(','))
    .map((id) => id.trim())
    .filter(Boolean);
  const unknown = only.filter((id) => !SCENARIOS.some((scenario) => scenario.id === id));
  if (unknown.length > 0) throw new UsageError(`unknown scenario ${unknown.join(', ')}`);
  const scenarios = only.length > 0 ? SCENARIOS.filter(({ id }) => only.includes(id)) : SCENARIOS;
  const reps = positiveInteger('--reps', values.reps, profile.reps);
  const timeLimitS = positiveInteger('--time-limit-s', values['time-limit-s'], DEFAULT_TIME_LIMIT_S[profile.name]);
  const proxyEnv: Record<string, string> = {};
  for (const pair of values['proxy-env'] ?? []) {
    const eq = pair.indexOf('=');
    if (eq < 1) throw new UsageError(`--proxy-env takes KEY=VALUE, got ${JSON.stringify(pair)}`);
    proxyEnv[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  // A run with a changed proxy environment is an experiment, not the proxy as deployed.
  const fullRun = profile.name === 'full' && scenarios.length === SCENARIOS.length && Object.keys(proxyEnv).length === 0;
  const markdown = values['no-markdown'] ? undefined : (values.markdown ?? (fullRun ? join(REPO_ROOT, 'BENCHMARKS.md') : undefined));
  return {
    scenarios,
    profile,
    reps,
    outDir: resolve(values['out-dir'] ?? join(REPO_ROOT, 'tools/bench/results')),
    markdown: markdown === undefined ? undefined : resolve(markdown),
    timeLimitMs: timeLimitS * 1000,
    profileProxy: values['profile-proxy'],
    profileFleet: values['profile-fleet'],
    memoizeAnswers: !values['no-memoize'],
    proxyEnv,
    verbose: values.verbose,
  };
}

function positiveInteger(flag: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new UsageError(`${flag} must be a positive integer, got ${JSON.stringify(raw)}`);
  return value;
}

async function runScenario(scenario: Scenario, sharedContext: ScenarioContext): Promise<ScenarioResult> {
  const started = performance.now();
  const cpuWait: Record<string, number> = {};
  const context: ScenarioContext = {
    ...sharedContext,
    reportCpuWait: ({ proxy, fleet, client }) =>
      Object.assign(cpuWait, { cpuWaitShareProxy: proxy, cpuWaitShareFleet: fleet, cpuWaitShareClient: client }),
  };
  const [loadBefore] = loadavg();
  context.log(`${scenario.id}: ${scenario.title} … (load average ${loadBefore.toFixed(1)})`);
  try {
    const scenarioOutcome = await scenario.run(context);
    // How busy the machine was: a CPU wait share far above 0 means other work stretched the figures.
    const outcome = {
      ...scenarioOutcome,
      metrics: { ...scenarioOutcome.metrics, ...cpuWait, loadAverageAtStart: Math.round(loadBefore * 100) / 100 },
    };
    const durationMs = Math.round(performance.now() - started);
    const verdicts = outcome.goals.map((goal) => `${goal.id} ${goal.pass ? 'PASS' : 'FAIL'}`).join(', ');
    context.log(`${scenario.id}: done in ${(durationMs / 1000).toFixed(1)} s (${verdicts})`);
    return { id: scenario.id, title: scenario.title, durationMs, ...outcome };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    context.log(`${scenario.id}: BROKE: ${message}`);
    return {
      id: scenario.id,
      title: scenario.title,
      durationMs: Math.round(performance.now() - started),
      params: {},
      variants: [],
      metrics: {},
      goals: [],
      notes: [],
      error: message,
    };
  }
}

async function main(): Promise<number> {
  let options: RunOptions | undefined;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${USAGE}`);
    return EXIT_USAGE;
  }
  if (!options) {
    console.log(USAGE);
    return 0;
  }
  const startedAt = new Date();
  const loadAtStart = loadavg().map((value) => Math.round(value * 100) / 100);
  const log = (message: string) => console.error(`[bench ${((Date.now() - startedAt.getTime()) / 1000).toFixed(1)}s] ${message}`);
  const profilesDir = join(options.outDir, 'profiles');
  const profileFlags = ['--cpu-prof', `--cpu-prof-dir=${profilesDir}`];
  if (options.profileProxy || options.profileFleet) mkdirSync(profilesDir, { recursive: true });
  const credentials = await createBenchCredentials();
  const scenarios: ScenarioResult[] = [];
  try {
    const context: ScenarioContext = {
      profile: options.profile,
      reps: options.reps,
      credentials,
      istioctlToken: await credentials.mintToken('istio-system', 'default'),
      benchDir: BENCH_DIR,
      mainJs: join(REPO_ROOT, 'dist/main.js'),
      proxyNodeFlags: options.profileProxy ? profileFlags : [],
      fleetNodeFlags: options.profileFleet ? profileFlags : [],
      memoizeAnswers: options.memoizeAnswers,
      proxyEnv: options.proxyEnv,
      verbose: options.verbose,
      deadline: startedAt.getTime() + options.timeLimitMs,
      log,
    };
    for (const scenario of options.scenarios) scenarios.push(await runScenario(scenario, context));
  } finally {
    credentials.remove();
  }

  const goals = scenarios.flatMap((scenario) => scenario.goals);
  const results: BenchResults = {
    schemaVersion: 1,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    durationMs: Date.now() - startedAt.getTime(),
    profile: options.profile.name,
    reps: options.reps,
    ...(Object.keys(options.proxyEnv).length > 0 ? { proxyEnv: options.proxyEnv } : {}),
    machine: { ...describeMachine(options.profile.name === 'smoke' ? 2 : 8), loadAverageAtStart: loadAtStart },
    scenarios,
    goals: { passed: goals.filter((goal) => goal.pass).length, failed: goals.filter((goal) => !goal.pass).length },
  };
  const file = writeResults(results, options.outDir);
  if (options.markdown) updateMarkdown(options.markdown, results, file);
  console.log(summaryText(results));
  console.log(`\nresults: ${file}${options.markdown ? `\nsummary: ${options.markdown}` : ''}`);
  return scenarios.some((scenario) => scenario.error) ? EXIT_BROKEN : 0;
}

process.once('SIGINT', () => process.exit(130));
main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`bench failed: ${(err as Error)?.stack ?? String(err)}`);
    process.exit(EXIT_BROKEN);
  },
);
