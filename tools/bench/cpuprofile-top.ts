import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';

/**
 * `node dist-tools/tools/bench/cpuprofile-top.js <file.cpuprofile>... [--top N] [--by function|file|package]
 * [--callers-of <text> [--depth D]] [--after-ms T]`: the functions (or files, or packages) with the most self time in V8
 * CPU profiles such as `npm run bench -- --profile-proxy` writes, with their total (inclusive) time.
 * Several profiles add up. `--callers-of` instead splits the self time of the functions whose name or
 * location contains <text> by their D nearest callers (default 4), to show which path spends it.
 * `--after-ms` ignores the first T ms of each profile (e.g. the proxy's start-up).
 */

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

type Grouping = 'function' | 'file' | 'package';

interface Row {
  key: string;
  selfUs: number;
  totalUs: number;
}

const USAGE =
  'usage: node dist-tools/tools/bench/cpuprofile-top.js <file.cpuprofile>... [--top N] [--by function|file|package] [--callers-of <text> [--depth D]] [--after-ms T]';

/** Where a frame's code lives: the package under node_modules, `node:internal`, `(native)` or the project file. */
function packageOf(url: string): string {
  if (url === '') return '(native or V8)';
  if (url.startsWith('node:')) return 'node: (Node.js internals)';
  const modules = url.lastIndexOf('/node_modules/');
  if (modules >= 0) {
    const [scope, name] = url.slice(modules + '/node_modules/'.length).split('/');
    return scope.startsWith('@') ? `${scope}/${name}` : scope;
  }
  const project = /\/(dist|dist-tools)\/(.*)$/.exec(url);
  return project ? `${project[1]}/${project[2].split('/').slice(0, -1).join('/') || '.'}` : url;
}

function shortUrl(url: string): string {
  const modules = url.lastIndexOf('/node_modules/');
  if (modules >= 0) return url.slice(modules + '/node_modules/'.length);
  const project = /\/(dist|dist-tools)\/(.*)$/.exec(url);
  if (project) return `${project[1]}/${project[2]}`;
  return url.startsWith('file://') ? basename(url) : url;
}

function keyOf(frame: CallFrame, by: Grouping): string {
  if (by === 'package') return packageOf(frame.url);
  if (by === 'file') return frame.url === '' ? '(native or V8)' : shortUrl(frame.url);
  const name = frame.functionName || '(anonymous)';
  // (garbage collector), (program), (idle), (root) have no URL.
  return frame.url === '' ? name : `${name}  ${shortUrl(frame.url)}:${frame.lineNumber + 1}`;
}

/**
 * Self time of a sample is the time until the next sample (DevTools' convention); total time goes to
 * every distinct key on the sample's stack once, so recursion is not counted twice.
 */
function topRows(profiles: CpuProfile[], by: Grouping): { rows: Row[]; sampledUs: number; idleUs: number } {
  const rows = new Map<string, Row>();
  let sampledUs = 0;
  let idleUs = 0;
  for (const profile of profiles) {
    const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
    const parent = new Map<number, number>();
    for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
    const stackKeys = new Map<number, string[]>();
    const keysOf = (id: number): string[] => {
      let keys = stackKeys.get(id);
      if (!keys) {
        const distinct = new Set<string>();
        for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
          const frame = nodes.get(at)?.callFrame;
          if (frame && frame.functionName !== '(root)') distinct.add(keyOf(frame, by));
        }
        stackKeys.set(id, (keys = [...distinct]));
      }
      return keys;
    };
    const row = (key: string) => {
      let found = rows.get(key);
      if (!found) rows.set(key, (found = { key, selfUs: 0, totalUs: 0 }));
      return found;
    };
    profile.samples.forEach((id, index) => {
      const durationUs = profile.timeDeltas[index + 1] ?? 0;
      const frame = nodes.get(id)?.callFrame;
      if (!frame) return;
      sampledUs += durationUs;
      if (frame.functionName === '(idle)') {
        idleUs += durationUs;
        return;
      }
      row(keyOf(frame, by)).selfUs += durationUs;
      for (const key of keysOf(id)) row(key).totalUs += durationUs;
    });
  }
  return { rows: [...rows.values()].sort((a, b) => b.selfUs - a.selfUs), sampledUs, idleUs };
}

/** Self time of the frames matching `text`, by their `depth` nearest callers (leaf first). */
function callerRows(profiles: CpuProfile[], text: string, depth: number): { rows: Row[]; matchedUs: number } {
  const rows = new Map<string, Row>();
  let matchedUs = 0;
  for (const profile of profiles) {
    const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
    const parent = new Map<number, number>();
    for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
    profile.samples.forEach((id, index) => {
      const frame = nodes.get(id)?.callFrame;
      if (!frame || !keyOf(frame, 'function').includes(text)) return;
      const durationUs = profile.timeDeltas[index + 1] ?? 0;
      matchedUs += durationUs;
      const chain: string[] = [];
      for (let at = parent.get(id); at !== undefined && chain.length < depth; at = parent.get(at)) {
        const caller = nodes.get(at)?.callFrame;
        if (caller && caller.functionName !== '(root)') chain.push(keyOf(caller, 'function'));
      }
      const key = [keyOf(frame, 'function'), ...chain].join('\n      ← ');
      const row = rows.get(key) ?? { key, selfUs: 0, totalUs: 0 };
      row.selfUs += durationUs;
      rows.set(key, row);
    });
  }
  return { rows: [...rows.values()].sort((a, b) => b.selfUs - a.selfUs), matchedUs };
}

/** The profile without the samples of its first `afterMs` milliseconds. */
function skipStart(profile: CpuProfile, afterMs: number): CpuProfile {
  if (afterMs <= 0) return profile;
  const samples: number[] = [];
  const timeDeltas: number[] = [];
  let elapsedUs = 0;
  profile.samples.forEach((id, index) => {
    elapsedUs += profile.timeDeltas[index] ?? 0;
    if (elapsedUs < afterMs * 1000) return;
    samples.push(id);
    // The first kept sample's own delta reaches back into the skipped part; only later ones count.
    timeDeltas.push(samples.length === 1 ? 0 : (profile.timeDeltas[index] ?? 0));
  });
  return { ...profile, samples, timeDeltas };
}

function main(): number {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      top: { type: 'string', default: '25' },
      by: { type: 'string', default: 'function' },
      'callers-of': { type: 'string' },
      depth: { type: 'string', default: '4' },
      'after-ms': { type: 'string', default: '0' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const top = Number(values.top);
  const by = values.by as Grouping;
  if (values.help || positionals.length === 0 || !Number.isInteger(top) || top < 1 || !['function', 'file', 'package'].includes(by)) {
    console.error(USAGE);
    return values.help ? 0 : 2;
  }
  const afterMs = Number(values['after-ms']);
  const profiles = positionals.map((file) =>
    skipStart(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, Number.isFinite(afterMs) ? afterMs : 0),
  );
  const { rows, sampledUs, idleUs } = topRows(profiles, by);
  const busyUs = sampledUs - idleUs;
  const ms = (us: number) => (us / 1000).toFixed(1).padStart(9);
  const pct = (us: number) => `${((100 * us) / Math.max(1, busyUs)).toFixed(1)}%`.padStart(7);
  const callersOf = values['callers-of'];
  if (callersOf !== undefined) {
    const depth = Number(values.depth);
    const callers = callerRows(profiles, callersOf, Number.isInteger(depth) && depth > 0 ? depth : 4);
    console.log(
      `self time of frames containing ${JSON.stringify(callersOf)}: ${ms(callers.matchedUs).trim()} ms (${pct(callers.matchedUs).trim()} of not idle), by caller chain`,
    );
    for (const row of callers.rows.slice(0, top)) console.log(`${ms(row.selfUs)} ${pct(row.selfUs)}  ${row.key}`);
    return 0;
  }
  console.log(`${positionals.length} profile(s): ${(sampledUs / 1000).toFixed(0)} ms sampled, ${(busyUs / 1000).toFixed(0)} ms not idle`);
  console.log(`${'self ms'.padStart(9)} ${'self'.padStart(7)} ${'total ms'.padStart(9)} ${'total'.padStart(7)}  ${by}`);
  for (const row of rows.slice(0, top))
    console.log(`${ms(row.selfUs)} ${pct(row.selfUs)} ${ms(row.totalUs)} ${pct(row.totalUs)}  ${row.key}`);
  return 0;
}

process.exitCode = main();
