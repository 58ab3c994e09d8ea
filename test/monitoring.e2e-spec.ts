import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { loadConfig } from '../src/config/load-config.js';
import { XdsStatusError } from '../tools/cli/xds-errors.js';
import { buildDemoMesh } from '../tools/sim/mesh-fixtures.js';
import { FakeKubeApi } from './kit/fake-kube-api.js';
import { serveTokenIssuer } from './kit/issuer-routes.js';
import { startMesh, type MeshHarness } from './kit/mesh-harness.js';
import { scrapeMetrics, type Scrape } from './kit/metrics-scrape.js';
import { createTokenIssuer } from './kit/test-tokens.js';

// deploy/components/monitoring against the real proxy: every metric and label its alerts and
// dashboard query must be on a live /metrics (after traffic that creates the labelled series), and
// the component must render with kubectl kustomize and select the proxy's Service.

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const deployDir = join(repoRoot, 'deploy');
const COMPONENT = 'components/monitoring';
const componentDir = join(deployDir, COMPONENT);
const SYNCZ = 'istio.io/debug/syncz';
const CONFIG_DUMP = 'istio.io/debug/config_dump';
const GARBAGE_TOKEN = 'garbage.not-a-jwt.Zm9vYmFyYmF6cXV4';
/**
 * Labels Prometheus puts on every series of a ServiceMonitor target (not on /metrics). `instance` is
 * not one of them here: with honorLabels the proxy's own `instance` (the istiod pod) is kept.
 */
const TARGET_LABELS = new Set(['namespace', 'pod', 'service', 'endpoint', 'container', 'job']);
/** The proxy's configuration defaults (the alerts' thresholds are derived from them). */
const DEFAULTS = loadConfig({
  PLAINTEXT: 'true',
  DISCOVERY: 'static',
  ISTIOD_ADDRESSES: 'istiod-a=10.0.0.1:15012',
  UPSTREAM_INSECURE: 'true',
});

interface Manifest {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}
interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface PrometheusRule extends Manifest {
  spec: { groups: Array<{ name: string; rules: Rule[] }> };
}
interface ServiceMonitor extends Manifest {
  spec: {
    selector: { matchLabels?: Record<string, string>; matchExpressions?: unknown[] };
    namespaceSelector?: unknown;
    endpoints: Array<{ port?: string; targetPort?: unknown; path?: string; honorLabels?: boolean }>;
  };
}
interface Service extends Manifest {
  spec: { ports: Array<{ name?: string; port: number }> };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  targets?: Array<{ expr: string; legendFormat?: string }>;
}
interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string; query?: string | { query: string } }> };
}

const dashboardText = readFileSync(join(componentDir, 'dashboard.json'), 'utf8');
const dashboard = JSON.parse(dashboardText) as Dashboard;
const prometheusRule = parse(readFileSync(join(componentDir, 'prometheusrule.yaml'), 'utf8')) as PrometheusRule;
const alerts = prometheusRule.spec.groups.flatMap((group) => group.rules);

/** Every PromQL expression of the component, named for failure messages. */
const expressions: Array<{ where: string; expr: string }> = [
  ...alerts.map((rule) => ({ where: `alert ${rule.alert ?? rule.record}`, expr: rule.expr })),
  ...dashboard.panels.flatMap((panel) =>
    (panel.targets ?? []).map((target, i) => ({ where: `panel "${panel.title}" target ${i}`, expr: target.expr })),
  ),
];
/** Dashboard variables queried with Grafana's `label_values(<selector>, <label>)`. */
const variableQueries = dashboard.templating.list.flatMap((variable) => {
  const query = typeof variable.query === 'string' ? variable.query : variable.query?.query;
  return variable.type === 'query' && query ? [{ where: `variable ${variable.name}`, query }] : [];
});

// --- A PromQL scanner: the metric names and label names an expression uses ---------------------

const AGGREGATIONS = ['sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values', 'bottomk', 'topk', 'quantile'];
// prettier-ignore
const FUNCTIONS = [
  'abs', 'absent', 'absent_over_time', 'acos', 'asin', 'atan', 'avg_over_time', 'ceil', 'changes', 'clamp', 'clamp_max',
  'clamp_min', 'cos', 'count_over_time', 'day_of_month', 'day_of_week', 'day_of_year', 'days_in_month', 'delta', 'deriv',
  'exp', 'floor', 'histogram_avg', 'histogram_count', 'histogram_fraction', 'histogram_quantile', 'histogram_sum',
  'holt_winters', 'hour', 'idelta', 'increase', 'irate', 'label_join', 'label_replace', 'last_over_time', 'ln', 'log10',
  'log2', 'max_over_time', 'min_over_time', 'minute', 'month', 'predict_linear', 'present_over_time', 'quantile_over_time',
  'rate', 'resets', 'round', 'scalar', 'sgn', 'sin', 'sort', 'sort_desc', 'sqrt', 'stddev_over_time', 'stdvar_over_time',
  'sum_over_time', 'tan', 'time', 'timestamp', 'vector', 'year',
];
const CALLABLE = new Set([...AGGREGATIONS, ...FUNCTIONS]);
// Bare modifiers (group_left without labels) and operators.
const KEYWORDS = new Set([
  'and',
  'or',
  'unless',
  'bool',
  'offset',
  'atan2',
  'inf',
  'nan',
  'group_left',
  'group_right',
  'by',
  'without',
  'on',
  'ignoring',
]);

interface Scan {
  /** Each vector selector: its metric name and the label names of its matchers. */
  selectors: Array<{ metric: string; matchers: string[] }>;
  /** Labels named in by/without/on/ignoring/group_left/group_right clauses. */
  grouping: string[];
  /** Identifiers followed by `(` that are no PromQL function or aggregation (typos). */
  unknownCalls: string[];
}

function scanPromQL(expr: string): Scan {
  const grouping: string[] = [];
  const text = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""') // label values, never names
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g, (_, labels: string) => {
      grouping.push(
        ...labels
          .split(',')
          .map((label) => label.trim())
          .filter(Boolean),
      );
      return ' ';
    })
    .replace(/\[[^\]]*\]/g, ' ') // ranges and subqueries: durations, $__rate_interval
    .replace(/\boffset\s+-?[\w$]+/g, ' ');
  const selectors: Scan['selectors'] = [];
  const unknownCalls: string[] = [];
  // An identifier (not inside a number or a duration, not a $variable), then an optional {matchers}.
  for (const match of text.matchAll(/(?<![\w.$])([a-zA-Z_:][\w:]*)\s*(\{[^}]*\})?(\s*\()?/g)) {
    const [, name, braces, call] = match;
    if (call && !braces) {
      if (!CALLABLE.has(name)) unknownCalls.push(name);
      continue;
    }
    if (KEYWORDS.has(name)) continue;
    const matchers = [...(braces ?? '').matchAll(/([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)/g)].map((m) => m[1]);
    selectors.push({ metric: name, matchers });
  }
  return { selectors, grouping, unknownCalls };
}

/** The argument text of every `fn(...)` call in `expr` (balanced parentheses). */
function callArguments(expr: string, fn: string): string[] {
  const found: string[] = [];
  for (const match of expr.matchAll(new RegExp(`\\b${fn}\\s*\\(`, 'g'))) {
    let depth = 1;
    let i = match.index + match[0].length;
    const start = i;
    for (; i < expr.length && depth > 0; i++) depth += expr[i] === '(' ? 1 : expr[i] === ')' ? -1 : 0;
    found.push(expr.slice(start, i - 1));
  }
  return found;
}

/** What /metrics says about each metric family: its type, and the sample names and label names seen. */
function catalogue(scrape: Scrape) {
  const types = new Map<string, string>();
  for (const [, name, type] of scrape.text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) types.set(name, type);
  const labels = new Map<string, Set<string>>();
  for (const sample of scrape.samples) {
    const set = labels.get(sample.name) ?? new Set<string>();
    for (const label of Object.keys(sample.labels)) set.add(label);
    labels.set(sample.name, set);
  }
  /** The family a sample name belongs to: itself, or a histogram/summary it is the _bucket/_sum/_count of. */
  const family = (name: string): { family: string; type: string } | undefined => {
    if (types.has(name)) return { family: name, type: types.get(name)! };
    const base = /^(.*)_(bucket|sum|count)$/.exec(name);
    const type = base && types.get(base[1]);
    if (!base || !type || !['histogram', 'summary'].includes(type) || (base[2] === 'bucket' && type !== 'histogram')) return undefined;
    return { family: base[1], type };
  };
  return { types, labels, family };
}

function failure(promise: Promise<unknown>): Promise<XdsStatusError> {
  return promise.then(
    () => {
      throw new Error('expected the request to fail');
    },
    (err: unknown) => err as XdsStatusError,
  );
}

describe('the PromQL scanner (guards the checks below against false passes)', () => {
  it('finds metric names and matcher labels, not functions, keywords, label values, durations or variables', () => {
    const scan = scanPromQL(
      'histogram_quantile(0.99, sum by (instance, le) (rate(a_bucket{x="1", y =~ "$v|by(z)"}[$__rate_interval]))) > 5e-1' +
        ' and on(pod) b offset 5m / ignoring (q) group_left c{reason!~"x"} unless bool 2 * d',
    );
    expect(scan.selectors).toEqual([
      { metric: 'a_bucket', matchers: ['x', 'y'] },
      { metric: 'b', matchers: [] },
      { metric: 'c', matchers: ['reason'] },
      { metric: 'd', matchers: [] },
    ]);
    expect(scan.grouping).toEqual(['instance', 'le', 'pod', 'q']);
    expect(scan.unknownCalls).toEqual([]);
    expect(scanPromQL('histogram_quantil(0.9, x)').unknownCalls).toEqual(['histogram_quantil']);
    expect(callArguments('1 + histogram_quantile(0.5, sum(rate(h_bucket[5m]))) * 2', 'histogram_quantile')).toEqual([
      '0.5, sum(rate(h_bucket[5m]))',
    ]);
  });
});

describe('deploy/components/monitoring: alerts and dashboard on a live /metrics (3 istiods, AUTH_MODE=tokenreview)', () => {
  let kube: FakeKubeApi;
  let mesh: MeshHarness;
  let dir: string;
  let scrape: Scrape;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'monitoring-e2e-'));
    const tokens = await createTokenIssuer();
    kube = new FakeKubeApi();
    await kube.start();
    serveTokenIssuer(kube, tokens);
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, kube.kubeconfigYaml());
    mesh = await startMesh({
      istiods: buildDemoMesh(),
      tokens,
      env: { AUTH_MODE: 'tokenreview', AUTH_KUBECONFIG: kubeconfig, JWT_JWKS_FILE: '', JWT_ISSUER: '' },
    });

    // Traffic that creates every labelled series the alerts and panels use.
    const client = mesh.client();
    for (let i = 0; i < 3; i++) await client.request(SYNCZ);
    await client.request(CONFIG_DUMP, ['nobody.nowhere']);
    const failing = mesh.istiods[1];
    failing.knobs.notReady = true; // one istiod failing: a partial answer and istiod errors
    try {
      for (let i = 0; i < 2; i++) expect((await client.request(SYNCZ)).headers['x-istioctl-proxy-missing']).toBe(failing.podName);
    } finally {
      failing.knobs.notReady = false;
    }
    expect((await failure(mesh.client({ token: GARBAGE_TOKEN }).request(SYNCZ, [], { timeoutMs: 5000 }))).code).toBe(
      status.UNAUTHENTICATED,
    );
    // A token the proxy accepts and istiod refuses (the node names another ServiceAccount).
    const intruder = await tokens.mint({ namespace: 'istio-system', serviceAccount: 'intruder' });
    expect((await failure(mesh.client({ token: intruder }).request(SYNCZ, [], { timeoutMs: 5000 }))).code).toBe(status.PERMISSION_DENIED);
    // Identical concurrent requests ride on one fan-out.
    for (const istiod of mesh.istiods) istiod.knobs.delayMs = 300;
    try {
      await Promise.all(Array.from({ length: 10 }, () => client.request(SYNCZ, [], { timeoutMs: 10_000 })));
    } finally {
      for (const istiod of mesh.istiods) istiod.knobs.delayMs = 0;
    }
    scrape = await scrapeMetrics(mesh.proxy.config.httpPort);
  });
  afterAll(async () => {
    await mesh?.stop();
    await kube?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the component has alerts and dashboard panels, each with an expression', () => {
    expect(alerts.length).toBeGreaterThanOrEqual(6);
    expect(dashboard.panels.length).toBeGreaterThanOrEqual(10);
    for (const { where, expr } of expressions) expect(expr?.trim(), where).toBeTruthy();
  });

  it('every metric an alert, panel or variable queries is on /metrics, as a sample name of a declared family', () => {
    const { labels, family } = catalogue(scrape);
    const missing: string[] = [];
    const queries = [
      ...expressions,
      ...variableQueries.map(({ where, query }) => ({ where, expr: /^label_values\((.*),\s*\w+\)$/.exec(query)?.[1] ?? query })),
    ];
    for (const { where, expr } of queries) {
      const scan = scanPromQL(expr);
      expect(scan.unknownCalls, `${where}: unknown functions`).toEqual([]);
      expect(scan.selectors.length, `${where}: no metric in ${expr}`).toBeGreaterThan(0);
      for (const { metric } of scan.selectors) {
        const known = family(metric);
        if (!known) missing.push(`${where}: ${metric} is no metric family on /metrics`);
        else if (!labels.has(metric))
          missing.push(
            `${where}: ${metric} has no sample on /metrics` +
              (known.family === metric && known.type === 'histogram' ? ' (a histogram: use _bucket/_sum/_count)' : ''),
          );
      }
    }
    expect(missing).toEqual([]);
  });

  it('every label an expression matches on or groups by exists on its metric (or is a ServiceMonitor target label)', () => {
    const { labels } = catalogue(scrape);
    const wrong: string[] = [];
    for (const { where, expr } of expressions) {
      const scan = scanPromQL(expr);
      for (const { metric, matchers } of scan.selectors)
        for (const label of matchers)
          if (!TARGET_LABELS.has(label) && !labels.get(metric)?.has(label)) wrong.push(`${where}: ${metric} has no label ${label}`);
      // A grouping label must exist on some metric the expression reads.
      for (const label of scan.grouping)
        if (!TARGET_LABELS.has(label) && !scan.selectors.some(({ metric }) => labels.get(metric)?.has(label)))
          wrong.push(`${where}: no metric of the expression has the label ${label} it groups by`);
    }
    for (const { where, query } of variableQueries) {
      const label = /,\s*(\w+)\)$/.exec(query)?.[1];
      if (label && !TARGET_LABELS.has(label)) wrong.push(`${where}: label_values of ${label}, not a target label`);
    }
    expect(wrong).toEqual([]);
  });

  it('histogram_quantile reads only _bucket series of histograms, grouped by le', () => {
    const { family } = catalogue(scrape);
    let quantiles = 0;
    for (const { where, expr } of expressions) {
      for (const argument of callArguments(expr, 'histogram_quantile')) {
        quantiles++;
        const scan = scanPromQL(argument);
        expect(scan.grouping, `${where}: histogram_quantile needs le`).toContain('le');
        for (const { metric } of scan.selectors) {
          expect(metric, where).toMatch(/_bucket$/);
          expect(family(metric)?.type, `${where}: ${metric}`).toBe('histogram');
        }
      }
    }
    expect(quantiles).toBeGreaterThanOrEqual(3);
  });

  it('the dashboard covers requests, fan-out latency, istiods, partial answers, coalescing, streams, tokens and memory', () => {
    const queried = new Set(
      dashboard.panels.flatMap((panel) =>
        (panel.targets ?? []).flatMap((target) => scanPromQL(target.expr).selectors.map((s) => s.metric)),
      ),
    );
    for (const metric of [
      'istioctl_proxy_requests_total',
      'istioctl_proxy_fanout_duration_seconds_bucket',
      'istioctl_proxy_istiod_request_duration_seconds_bucket',
      'istioctl_proxy_istiod_errors_total',
      'istioctl_proxy_partial_answers_total',
      'istioctl_proxy_coalesced_requests_total',
      'istioctl_proxy_open_streams',
      'istioctl_proxy_token_verifications_total',
      'istioctl_proxy_process_resident_memory_bytes',
      'istioctl_proxy_nodejs_heap_size_used_bytes',
    ])
      expect(queried, metric).toContain(metric);
    const ids = dashboard.panels.map((panel) => panel.id);
    expect(new Set(ids).size).toBe(ids.length);
    const titles = dashboard.panels.map((panel) => panel.title);
    expect(new Set(titles).size).toBe(titles.length);
  });
});

describe('deploy/components/monitoring: the rules', () => {
  it('alert names are unique across groups; each alert has for:, a severity, summary, description and a runbook hint', () => {
    const groups = prometheusRule.spec.groups.map((group) => group.name);
    expect(new Set(groups).size).toBe(groups.length);
    const names = alerts.map((rule) => rule.alert);
    expect(names.every((name) => typeof name === 'string')).toBe(true);
    expect(new Set(names).size).toBe(names.length);
    for (const rule of alerts) {
      expect(rule.for, rule.alert).toMatch(/^\d+[smh]$/);
      expect(['warning', 'critical'], rule.alert).toContain(rule.labels?.severity);
      for (const key of ['summary', 'description', 'runbook']) expect(rule.annotations?.[key], `${rule.alert}: ${key}`).toBeTruthy();
      expect(rule.annotations?.runbook, rule.alert).toContain(`deploy/README.md#monitoring, ${rule.alert}`);
    }
  });

  it('covers no ready istiod, partial answers, a failing istiod, slow fan-outs, TokenReview failures and open streams', () => {
    const byMetric = (metric: string) => alerts.filter((rule) => scanPromQL(rule.expr).selectors.some((s) => s.metric === metric));
    expect(byMetric('istioctl_proxy_istiod_instances')).toHaveLength(1);
    expect(byMetric('istioctl_proxy_partial_answers_total')).toHaveLength(1);
    expect(byMetric('istioctl_proxy_istiod_errors_total')).toHaveLength(1);
    expect(byMetric('istioctl_proxy_fanout_duration_seconds_bucket')).toHaveLength(1);
    expect(byMetric('istioctl_proxy_tokenreviews_total')).toHaveLength(1);
    expect(byMetric('istioctl_proxy_open_streams')).toHaveLength(1);
  });

  it('thresholds follow the defaults of FANOUT_TIMEOUT_MS (p99 above half of it) and MAX_CONCURRENT_STREAMS (80%)', () => {
    const threshold = (metric: string) => {
      const rule = alerts.find((r) => scanPromQL(r.expr).selectors.some((s) => s.metric === metric));
      return Number(/>\s*([\d.]+)\s*$/.exec(rule?.expr.trim() ?? '')?.[1]);
    };
    expect(threshold('istioctl_proxy_fanout_duration_seconds_bucket')).toBe(DEFAULTS.fanoutTimeoutMs / 2 / 1000);
    expect(threshold('istioctl_proxy_open_streams')).toBe(DEFAULTS.maxConcurrentStreams * 0.8);
  });
});

// Renders with the kubectl-embedded kustomize when available (it is not a test dependency).
const hasKubectl = spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).status === 0;

describe.skipIf(!hasKubectl)('deploy/components/monitoring: kubectl kustomize', () => {
  const namespace = 'external-istiod';

  /** Base + the given components from a temporary overlay, as deploy/README.md describes. */
  function renderOverlay(components: string[]): Manifest[] {
    const tmp = mkdtempSync(join(tmpdir(), 'istioctl-proxy-monitoring-'));
    try {
      cpSync(deployDir, join(tmp, 'deploy'), { recursive: true });
      mkdirSync(join(tmp, 'overlay'));
      const kustomization = [
        'apiVersion: kustomize.config.k8s.io/v1beta1',
        'kind: Kustomization',
        `namespace: ${namespace}`,
        'resources:',
        '  - ../deploy',
        'components:',
        ...components.map((component) => `  - ../deploy/${component}`),
      ];
      writeFileSync(join(tmp, 'overlay', 'kustomization.yaml'), `${kustomization.join('\n')}\n`);
      const result = spawnSync('kubectl', ['kustomize', join(tmp, 'overlay')], { encoding: 'utf8' });
      expect(result.stderr).toBe('');
      expect(result.status).toBe(0);
      return parseAllDocuments(result.stdout).map((doc) => doc.toJS() as Manifest);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }

  const matches = (selector: Record<string, string>, labels: Record<string, string> = {}) =>
    Object.entries(selector).every(([key, value]) => labels[key] === value);

  it('renders base + component: ServiceMonitor, PrometheusRule and the dashboard ConfigMap in the namespace', () => {
    const rendered = renderOverlay([COMPONENT]);
    const added = rendered.filter((m) => ['ServiceMonitor', 'PrometheusRule', 'ConfigMap'].includes(m.kind ?? ''));
    expect(added.map((m) => [m.apiVersion, m.kind, m.metadata?.name]).sort()).toEqual([
      ['monitoring.coreos.com/v1', 'PrometheusRule', 'istioctl-proxy'],
      ['monitoring.coreos.com/v1', 'ServiceMonitor', 'istioctl-proxy'],
      ['v1', 'ConfigMap', 'istioctl-proxy-dashboard'],
    ]);
    for (const manifest of added) expect(manifest.metadata?.namespace, manifest.kind).toBe(namespace);
    const configMap = added.find((m) => m.kind === 'ConfigMap') as Manifest & { data: Record<string, string> };
    expect(configMap.metadata?.labels).toMatchObject({ grafana_dashboard: '1' });
    expect(Object.keys(configMap.data)).toEqual(['dashboard.json']);
    expect(JSON.parse(configMap.data['dashboard.json'])).toEqual(dashboard);
    expect((added.find((m) => m.kind === 'PrometheusRule') as PrometheusRule).spec).toEqual(prometheusRule.spec);
  });

  it("the ServiceMonitor selects the proxy Service's labels and its http-monitoring port, /metrics, keeping the istiod instance label", () => {
    // With the load-balancer component too: its Service carries the same labels but not the port.
    const rendered = renderOverlay([COMPONENT, 'components/load-balancer']);
    const monitor = rendered.find((m) => m.kind === 'ServiceMonitor') as ServiceMonitor;
    expect(monitor.spec.namespaceSelector).toBeUndefined(); // its own namespace, the proxy's
    expect(monitor.spec.selector.matchExpressions).toBeUndefined();
    const selector = monitor.spec.selector.matchLabels ?? {};
    expect(Object.keys(selector).length).toBeGreaterThan(0);
    const services = rendered.filter((m) => m.kind === 'Service') as Service[];
    const selected = services.filter((service) => matches(selector, service.metadata?.labels));
    expect(selected.map((service) => service.metadata?.name)).toContain('istioctl-proxy');
    expect(monitor.spec.endpoints).toHaveLength(1);
    const [endpoint] = monitor.spec.endpoints;
    expect(endpoint).toMatchObject({ port: 'http-monitoring', path: '/metrics', honorLabels: true });
    const scraped = selected.filter((service) => service.spec.ports.some((port) => port.name === endpoint.port));
    expect(scraped.map((service) => [service.metadata?.name, service.spec.ports.find((p) => p.name === endpoint.port)?.port])).toEqual([
      ['istioctl-proxy', DEFAULTS.httpPort],
    ]);
  });
});
