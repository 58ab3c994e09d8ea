import type { Sample } from '../../test/kit/metrics-scrape.js';

/**
 * A tiny PromQL evaluator over a handful of /metrics scrapes, made for the README's dashboard picture
 * (render-dashboard.ts). It is an APPROXIMATION of Prometheus, not a reimplementation. It knows only
 * the shapes the dashboard uses:
 *
 * - vector selectors with `=`, `!=`, `=~`, `!~` matchers (an absent label matches as "", regexes are
 *   anchored, as in Prometheus);
 * - `rate(sel[d])` and `increase(sel[d])`: the counter-reset-corrected increase between the first and
 *   last samples inside the window, divided by their time span for rate. Unlike Prometheus there is no
 *   extrapolation to the window's edges, and a window holding fewer than two samples gives nothing;
 * - `sum`, `min`, `max`, `avg`, `count` with `by (...)` / `without (...)`, before or after the argument;
 * - `histogram_quantile(q, v)` with Prometheus' linear interpolation inside the bucket;
 * - `+ - * /` between a vector and a number or two vectors with identical label sets.
 *
 * Anything else is refused with an error naming it, so a picture is never drawn from a query this
 * evaluator silently misreads.
 */

/** One scrape of /metrics: its time (seconds) and samples (with the target labels already added). */
export interface Snapshot {
  t: number;
  samples: Sample[];
}

export interface Series {
  labels: Record<string, string>;
  value: number;
}

type Matcher = { label: string; op: '=' | '!=' | '=~' | '!~'; value: string };
type Node =
  | { kind: 'number'; value: number }
  | { kind: 'selector'; metric: string; matchers: Matcher[]; rangeSeconds?: number }
  | { kind: 'call'; fn: string; args: Node[] }
  | { kind: 'aggregate'; op: string; mode: 'by' | 'without'; labels: string[]; arg: Node }
  | { kind: 'binary'; op: string; left: Node; right: Node };

const AGGREGATIONS = new Set(['sum', 'min', 'max', 'avg', 'count']);
const FUNCTIONS = new Set(['rate', 'increase', 'histogram_quantile']);

// --- parsing ----------------------------------------------------------------------------------

const TOKEN = /\s*(?:(\d+(?:\.\d+)?(?:e[+-]?\d+)?)|([a-zA-Z_:][\w:]*)|("(?:[^"\\]|\\.)*")|(=~|!~|!=|==|>=|<=|[-+*/(){}[\],=<>]))/y;

function tokenize(expr: string): string[] {
  const tokens: string[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < expr.length) {
    if (/^\s*$/.test(expr.slice(TOKEN.lastIndex))) break;
    const at = TOKEN.lastIndex;
    const match = TOKEN.exec(expr);
    if (!match) throw new Error(`promql-lite: cannot read "${expr.slice(at, at + 20)}" in ${expr}`);
    tokens.push(match[1] ?? match[2] ?? match[3] ?? match[4]);
  }
  return tokens;
}

function durationSeconds(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text);
  if (!match) throw new Error(`promql-lite: unsupported duration ${text}`);
  return Number(match[1]) * { ms: 0.001, s: 1, m: 60, h: 3600 }[match[2] as 'ms' | 's' | 'm' | 'h'];
}

export function parsePromQL(expr: string): Node {
  const tokens = tokenize(expr);
  let i = 0;
  const peek = () => tokens[i];
  const take = (expected?: string) => {
    const token = tokens[i++];
    if (expected !== undefined && token !== expected) throw new Error(`promql-lite: expected "${expected}", got "${token}" in ${expr}`);
    return token;
  };
  const labelList = (): string[] => {
    take('(');
    const labels: string[] = [];
    while (peek() !== ')') {
      labels.push(take());
      if (peek() === ',') take();
    }
    take(')');
    return labels;
  };
  const binary = (next: () => Node, ops: string[]) => (): Node => {
    let left = next();
    while (ops.includes(peek())) {
      const op = take();
      left = { kind: 'binary', op, left, right: next() };
    }
    return left;
  };
  const primary = (): Node => {
    const token = take();
    if (token === '(') {
      const inner = additive();
      take(')');
      return inner;
    }
    if (/^\d/.test(token)) return { kind: 'number', value: Number(token) };
    if (AGGREGATIONS.has(token)) {
      let mode: 'by' | 'without' = 'by';
      let labels: string[] = [];
      if (peek() === 'by' || peek() === 'without') {
        mode = take() as 'by' | 'without';
        labels = labelList();
      }
      take('(');
      const arg = additive();
      take(')');
      if (peek() === 'by' || peek() === 'without') {
        mode = take() as 'by' | 'without';
        labels = labelList();
      }
      return { kind: 'aggregate', op: token, mode, labels, arg };
    }
    if (peek() === '(') {
      if (!FUNCTIONS.has(token)) throw new Error(`promql-lite: unsupported function ${token}() in ${expr}`);
      take('(');
      const args = [additive()];
      while (peek() === ',') {
        take();
        args.push(additive());
      }
      take(')');
      return { kind: 'call', fn: token, args };
    }
    if (!/^[a-zA-Z_:]/.test(token)) throw new Error(`promql-lite: unexpected "${token}" in ${expr}`);
    const selector: Node & { kind: 'selector' } = { kind: 'selector', metric: token, matchers: [] };
    if (peek() === '{') {
      take();
      while (peek() !== '}') {
        const label = take();
        const op = take() as Matcher['op'];
        if (!['=', '!=', '=~', '!~'].includes(op)) throw new Error(`promql-lite: bad matcher ${label}${op} in ${expr}`);
        selector.matchers.push({ label, op, value: JSON.parse(take()) as string });
        if (peek() === ',') take();
      }
      take('}');
    }
    if (peek() === '[') {
      take();
      let text = '';
      while (peek() !== ']') text += take();
      take(']');
      selector.rangeSeconds = durationSeconds(text);
    }
    return selector;
  };
  const multiplicative = binary(primary, ['*', '/']);
  const additive = binary(multiplicative, ['+', '-']);
  const root = additive();
  if (i !== tokens.length) throw new Error(`promql-lite: unsupported "${tokens.slice(i).join(' ')}" in ${expr}`);
  return root;
}

// --- evaluation -------------------------------------------------------------------------------

const matches = (labels: Record<string, string>, { label, op, value }: Matcher): boolean => {
  const actual = labels[label] ?? '';
  if (op === '=') return actual === value;
  if (op === '!=') return actual !== value;
  const regex = new RegExp(`^(?:${value})$`);
  return op === '=~' ? regex.test(actual) : !regex.test(actual);
};

const keyOf = (labels: Record<string, string>) => JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

/** Labels without the metric name, which functions, aggregations and arithmetic drop. */
function withoutName(labels: Record<string, string>): Record<string, string> {
  const copy = { ...labels };
  delete copy.__name__;
  return copy;
}

function select(snapshot: Snapshot, node: Node & { kind: 'selector' }): Series[] {
  return snapshot.samples
    .filter((sample) => sample.name === node.metric && node.matchers.every((m) => matches(sample.labels, m)))
    .map((sample) => ({ labels: { __name__: sample.name, ...sample.labels }, value: sample.value }));
}

function rangeIncrease(history: Snapshot[], at: number, node: Node & { kind: 'selector' }, perSecond: boolean): Series[] {
  const window = history.filter((snapshot) => snapshot.t > at - node.rangeSeconds! && snapshot.t <= at);
  const points = new Map<string, { labels: Record<string, string>; values: Array<[number, number]> }>();
  for (const snapshot of window) {
    for (const series of select(snapshot, node)) {
      const labels = withoutName(series.labels);
      const key = keyOf(labels);
      const entry = points.get(key) ?? { labels, values: [] };
      entry.values.push([snapshot.t, series.value]);
      points.set(key, entry);
    }
  }
  const out: Series[] = [];
  for (const { labels, values } of points.values()) {
    if (values.length < 2) continue;
    let increase = 0;
    for (let k = 1; k < values.length; k++) {
      const delta = values[k][1] - values[k - 1][1];
      increase += delta >= 0 ? delta : values[k][1]; // a counter reset starts again from 0
    }
    const span = values[values.length - 1][0] - values[0][0];
    out.push({ labels, value: perSecond ? increase / span : increase });
  }
  return out;
}

function histogramQuantile(q: number, buckets: Series[]): Series[] {
  const groups = new Map<string, { labels: Record<string, string>; buckets: Array<[number, number]> }>();
  for (const { labels, value } of buckets) {
    const { le, ...rest } = labels;
    if (le === undefined) continue;
    const key = keyOf(rest);
    const group = groups.get(key) ?? { labels: rest, buckets: [] };
    group.buckets.push([le === '+Inf' ? Infinity : Number(le), value]);
    groups.set(key, group);
  }
  const out: Series[] = [];
  for (const { labels, buckets: list } of groups.values()) {
    list.sort((a, b) => a[0] - b[0]);
    const total = list[list.length - 1]?.[1] ?? 0;
    if (list[list.length - 1]?.[0] !== Infinity || total <= 0) continue;
    const rank = q * total;
    const index = list.findIndex(([, count]) => count >= rank);
    if (index === list.length - 1) {
      out.push({ labels, value: list.length > 1 ? list[list.length - 2][0] : NaN });
      continue;
    }
    const [upper, count] = list[index];
    const [lower, below] = index === 0 ? [upper > 0 ? 0 : upper, 0] : list[index - 1];
    out.push({ labels, value: count === below ? lower : lower + ((upper - lower) * (rank - below)) / (count - below) });
  }
  return out;
}

function aggregate(node: Node & { kind: 'aggregate' }, input: Series[]): Series[] {
  const groups = new Map<string, { labels: Record<string, string>; values: number[] }>();
  for (const { labels, value } of input) {
    const kept = Object.fromEntries(
      Object.entries(labels).filter(([name]) => name !== '__name__' && (node.mode === 'by') === node.labels.includes(name)),
    );
    const key = keyOf(kept);
    const group = groups.get(key) ?? { labels: kept, values: [] };
    group.values.push(value);
    groups.set(key, group);
  }
  const reduce: Record<string, (values: number[]) => number> = {
    sum: (v) => v.reduce((a, b) => a + b, 0),
    min: (v) => Math.min(...v),
    max: (v) => Math.max(...v),
    avg: (v) => v.reduce((a, b) => a + b, 0) / v.length,
    count: (v) => v.length,
  };
  return [...groups.values()].map(({ labels, values }) => ({ labels, value: reduce[node.op](values) }));
}

const ARITHMETIC: Record<string, (a: number, b: number) => number> = {
  '+': (a, b) => a + b,
  '-': (a, b) => a - b,
  '*': (a, b) => a * b,
  '/': (a, b) => a / b,
};

type Value = number | Series[];

function evaluateNode(node: Node, history: Snapshot[], at: number): Value {
  const now = history.filter((snapshot) => snapshot.t <= at).at(-1);
  switch (node.kind) {
    case 'number':
      return node.value;
    case 'selector':
      if (node.rangeSeconds !== undefined) throw new Error(`promql-lite: a range vector outside rate()/increase(): ${node.metric}`);
      return now ? select(now, node) : [];
    case 'aggregate': {
      const input = evaluateNode(node.arg, history, at);
      if (typeof input === 'number') throw new Error(`promql-lite: ${node.op} of a number`);
      return aggregate(node, input);
    }
    case 'call': {
      if (node.fn === 'histogram_quantile') {
        const [q, buckets] = node.args.map((arg) => evaluateNode(arg, history, at));
        if (typeof q !== 'number' || typeof buckets === 'number') throw new Error('promql-lite: histogram_quantile(number, vector)');
        return histogramQuantile(q, buckets);
      }
      const [range] = node.args;
      if (node.args.length !== 1 || range.kind !== 'selector' || range.rangeSeconds === undefined)
        throw new Error(`promql-lite: ${node.fn}() takes one range selector`);
      return rangeIncrease(history, at, range, node.fn === 'rate');
    }
    case 'binary': {
      const left = evaluateNode(node.left, history, at);
      const right = evaluateNode(node.right, history, at);
      const op = ARITHMETIC[node.op];
      if (!op) throw new Error(`promql-lite: unsupported operator ${node.op}`);
      if (typeof left === 'number' && typeof right === 'number') return op(left, right);
      if (typeof left === 'number') return (right as Series[]).map((s) => ({ labels: s.labels, value: op(left, s.value) }));
      if (typeof right === 'number') return left.map((s) => ({ labels: s.labels, value: op(s.value, right) }));
      // One-to-one matching on every label but the metric name, which the result drops.
      const byKey = new Map(right.map((s) => [keyOf(withoutName(s.labels)), s.value]));
      return left.flatMap((s) => {
        const labels = withoutName(s.labels);
        const other = byKey.get(keyOf(labels));
        return other === undefined ? [] : [{ labels, value: op(s.value, other) }];
      });
    }
  }
}

/** Evaluates `expr` at time `at` (seconds) over the scrapes in `history` (sorted by time). */
export function evaluate(expr: string, history: Snapshot[], at: number): Series[] {
  const value = evaluateNode(parsePromQL(expr), history, at);
  const series = typeof value === 'number' ? [{ labels: {}, value }] : value;
  return series.filter((s) => Number.isFinite(s.value));
}
