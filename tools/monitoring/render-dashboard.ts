import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { startProxy, type RunningProxy } from '../../src/bootstrap.js';
import { loadConfig } from '../../src/config/load-config.js';
import { PinoLogger } from '../../src/modules/logging/pino-logger.js';
import { freePort } from '../../test/kit/free-port.js';
import { scrapeMetrics } from '../../test/kit/metrics-scrape.js';
import { TYPE_CONFIG_DUMP, TYPE_DEBUG, TYPE_SYNCZ } from '../cli/client.js';
import { XdsClient } from '../cli/xds-client.js';
import type { XdsStream } from '../cli/xds-stream.js';
import { startDemoMesh, demoProxyEnv, type DemoMesh } from '../demo/demo-mesh.js';
import { buildMulticlusterMesh, findPodOnThird } from '../sim/mesh-fixtures.js';
import { dashboardHeight, renderDashboardHtml, type DashboardJson, type PanelLine } from './dashboard-html.js';
import { evaluate, type Snapshot } from './promql-lite.js';

/**
 * Renders the Grafana dashboard of deploy/components/monitoring as the README picture
 * (docs/images/dashboard.png), from a live proxy rather than from made-up numbers:
 *
 *   npm run build:tools --silent && node dist-tools/tools/monitoring/render-dashboard.js [--seconds 30] [--out docs/images/dashboard.png]
 *
 * 1. Starts the demo's mesh (`npm run demo`: 3 simulated istiods serving clusters east and west,
 *    TokenReview per cluster) and the real proxy in front of it, on free loopback ports.
 * 2. Sends scripted istioctl traffic (proxy-status, proxy-status <pod>, internal-debug, bursts of
 *    identical requests, bad tokens, streams held open; one istiod not ready for a while, then another
 *    one slow) while scraping /metrics every `--interval` seconds.
 * 3. Evaluates every panel's PromQL with promql-lite.ts, a small evaluator that only APPROXIMATES
 *    Prometheus (no extrapolation in rate(); `$__rate_interval` is 4 scrape intervals; the variables
 *    are "All"). The target labels a ServiceMonitor would add (namespace, pod, ...) are added to each
 *    scraped sample, as Prometheus would with honorLabels.
 * 4. Writes the page as HTML with inline SVG and screenshots it with headless Chromium
 *    (`apt-get install -y chromium` on Debian; `--chromium PATH` otherwise; `--html-only` to skip).
 *
 * The picture shows what the dashboard's queries return for this traffic; it is not a Grafana screenshot.
 * The istiods, the clients and the proxy share one Node process and event loop here, so latencies
 * include their contention: the numbers illustrate the panels, they are no benchmark.
 */

const TARGET = { namespace: 'istio-system', pod: 'istioctl-proxy-5d8f7c9b6-q4w2x', job: 'istioctl-proxy', service: 'istioctl-proxy' };

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'deploy/components/monitoring/dashboard.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find deploy/components/monitoring/dashboard.json above this script');
    dir = parent;
  }
  return dir;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * istioctl-like traffic for `durationMs` after a warm-up (connections to every istiod and API server
 * opened), announced by `started`; the istiods misbehave on a schedule.
 */
async function traffic(mesh: DemoMesh, address: string, durationMs: number, started: () => void): Promise<void> {
  const [east, west] = mesh.clusters;
  const client = (tokenFile: string) => new XdsClient({ address, token: readFileSync(tokenFile, 'utf8').trim() });
  const eastClient = client(east.tokenFile);
  const westClient = client(west.tokenFile);
  const badClient = new XdsClient({ address, token: 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJub2JvZHkifQ.c2lnbmF0dXJl' });
  const pod = findPodOnThird(buildMulticlusterMesh());
  const held: XdsStream[] = [];
  const ignore = () => undefined;
  let startedAt = Infinity;
  const phase = () => Math.max(0, Date.now() - startedAt) / durationMs;
  const commands = [
    () => eastClient.request(TYPE_SYNCZ),
    () => westClient.request(TYPE_SYNCZ),
    () => eastClient.request(TYPE_CONFIG_DUMP, [pod]),
    () => westClient.request(TYPE_DEBUG, ['clusterz']),
    () => eastClient.request(TYPE_DEBUG, ['syncz']),
  ];
  const [, , slow] = mesh.istiods;
  const [notReady] = mesh.istiods;
  let tick = 0;
  try {
    for (let round = 0; round < 8; round++) {
      await Promise.all([...commands, ...commands].map((command) => command().catch(ignore)));
      await badClient.request(TYPE_SYNCZ, [], { timeoutMs: 5000 }).catch(ignore);
    }
    await Promise.all(Array.from({ length: 20 }, () => eastClient.request(TYPE_SYNCZ).catch(ignore)));
    startedAt = Date.now();
    started();
    while (phase() < 1) {
      const p = phase();
      notReady.knobs.notReady = p > 0.3 && p < 0.55;
      slow.knobs.delayMs = p > 0.55 && p < 0.8 ? 250 : 0;
      void commands[tick % commands.length]().catch(ignore);
      if (tick % 4 === 0) void badClient.request(TYPE_SYNCZ, [], { timeoutMs: 5000 }).catch(ignore);
      // Bursts of identical requests from one caller: they share fan-outs (coalescing).
      if (tick % 8 === 3) await Promise.all(Array.from({ length: 20 }, () => eastClient.request(TYPE_SYNCZ).catch(ignore)));
      // istioctl sessions left open between 20% and 80% of the run, then closed.
      if (p > 0.2 && p < 0.8 && held.length < 60) {
        for (let k = 0; k < 3; k++) {
          const stream = westClient.openStream();
          stream.send({ type_url: TYPE_SYNCZ });
          stream.next({ timeoutMs: 10_000 }).catch(ignore);
          held.push(stream);
        }
      }
      if (p >= 0.8) for (const stream of held.splice(0)) stream.cancel();
      tick++;
      await sleep(250);
    }
  } finally {
    for (const stream of held) stream.cancel();
    notReady.knobs.notReady = false;
    slow.knobs.delayMs = 0;
    await sleep(200);
    for (const c of [eastClient, westClient, badClient]) c.close();
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '30' },
      interval: { type: 'string', default: '2' },
      out: { type: 'string', default: 'docs/images/dashboard.png' },
      width: { type: 'string', default: '1400' },
      chromium: { type: 'string', default: '/usr/bin/chromium' },
      'html-only': { type: 'boolean', default: false },
    },
  });
  const root = repoRoot();
  const dashboard = JSON.parse(readFileSync(join(root, 'deploy/components/monitoring/dashboard.json'), 'utf8')) as DashboardJson;
  const durationMs = Number(values.seconds) * 1000;
  const intervalMs = Number(values.interval) * 1000;
  const width = Number(values.width);

  const mesh = await startDemoMesh({ multicluster: true });
  let proxy: RunningProxy | undefined;
  const history: Snapshot[] = [];
  try {
    const grpcPort = await freePort();
    const httpPort = await freePort();
    proxy = await startProxy(
      loadConfig(demoProxyEnv(mesh, { grpcPort: String(grpcPort), httpPort: String(httpPort), logLevel: 'error' })),
      new PinoLogger('error', pino.destination({ fd: 2, sync: true })),
    );
    console.log(
      `proxy on 127.0.0.1:${grpcPort}, /metrics on :${httpPort}; ${values.seconds} s of traffic, a scrape every ${values.interval} s`,
    );
    let announce!: () => void;
    const warm = new Promise<void>((resolve) => (announce = resolve));
    const load = traffic(mesh, `localhost:${grpcPort}`, durationMs, () => announce());
    await Promise.race([warm, load]);
    const startedAt = Date.now();
    for (let next = startedAt; next <= startedAt + durationMs; next += intervalMs) {
      await sleep(Math.max(0, next - Date.now()));
      const scrape = await scrapeMetrics(httpPort);
      const instance = `127.0.0.1:${httpPort}`;
      const samples = scrape.samples.map((s) => ({ ...s, labels: { instance, ...TARGET, endpoint: 'http-monitoring', ...s.labels } }));
      history.push({ t: Date.now() / 1000, samples });
    }
    await load;
  } finally {
    await proxy?.close();
    await mesh.stop();
  }

  // Evaluate every panel at every scrape but the first (rate needs two samples).
  const rateInterval = `${(4 * intervalMs) / 1000}s`;
  const at = history.slice(1).map((snapshot) => snapshot.t);
  const lines = new Map<number, PanelLine[]>();
  const errors = new Map<number, string>();
  for (const panel of dashboard.panels) {
    try {
      const panelLines: PanelLine[] = [];
      for (const target of panel.targets ?? []) {
        const expr = target.expr.replaceAll('$__rate_interval', rateInterval).replace(/\$\{?(namespace|pod)\}?/g, '.*');
        const byLegend = new Map<string, Array<number | undefined>>();
        at.forEach((t, i) => {
          for (const series of evaluate(expr, history, t)) {
            const legend = (target.legendFormat ?? '').replace(/\{\{\s*(\w+)\s*\}\}/g, (_, label: string) => series.labels[label] ?? '');
            const key = legend || JSON.stringify(series.labels);
            const row = byLegend.get(key) ?? Array<number | undefined>(at.length).fill(undefined);
            row[i] = series.value;
            byLegend.set(key, row);
          }
        });
        for (const [legend, row] of [...byLegend].sort(([a], [b]) => a.localeCompare(b))) panelLines.push({ legend, values: row });
      }
      lines.set(panel.id, panelLines);
    } catch (error) {
      errors.set(panel.id, (error as Error).message);
    }
  }
  for (const [id, message] of errors) console.error(`panel ${id}: ${message}`);

  const note =
    `Demo data: the npm run demo mesh and the real proxy under scripted istioctl traffic (one istiod not ready, then one slow), ` +
    `scraped every ${values.interval} s for ${values.seconds} s, queries evaluated by tools/monitoring/promql-lite.ts, ` +
    `an approximation of Prometheus (rate without extrapolation, $__rate_interval = ${rateInterval}).`;
  const html = renderDashboardHtml({ dashboard, times: at.map((t) => t * 1000), lines, errors, note, width });
  const work = mkdtempSync(join(tmpdir(), 'istioctl-proxy-dashboard-'));
  const htmlFile = join(work, 'dashboard.html');
  writeFileSync(htmlFile, html);
  if (values['html-only']) {
    console.log(`wrote ${htmlFile}`);
    return errors.size === 0 ? 0 : 1;
  }
  const out = resolve(root, values.out);
  mkdirSync(dirname(out), { recursive: true });
  const shot = spawnSync(
    values.chromium,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--hide-scrollbars',
      `--user-data-dir=${join(work, 'profile')}`,
      `--screenshot=${out}`,
      `--window-size=${width},${dashboardHeight(dashboard)}`,
      pathToFileURL(htmlFile).href,
    ],
    { encoding: 'utf8' },
  );
  if (shot.error || shot.status !== 0) {
    console.error(`chromium failed (${shot.error?.message ?? `exit ${shot.status}`}): ${shot.stderr}\nthe page is ${htmlFile}`);
    return 1;
  }
  rmSync(work, { recursive: true, force: true });
  console.log(`wrote ${out}`);
  return errors.size === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`render-dashboard failed: ${(err as Error)?.stack ?? String(err)}`);
    process.exit(1);
  },
);
