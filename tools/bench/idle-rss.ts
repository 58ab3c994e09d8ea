import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { createBenchCredentials } from './bench-credentials.js';
import { ChildLink } from './child-link.js';
import type { FleetInfo, FleetSpec } from './fleet-spec.js';
import { ProxyProcess } from './proxy-process.js';

/**
 * `npm run build:tools && node dist-tools/tools/bench/idle-rss.js [--istiods 10] [--reps 5] [--settle-ms 1000]
 * [--proxy-env K=V]… [--node-flag F]… [--main dist/main.js] [--verbose]`: the bench's idle RSS alone (a few
 * seconds per rep), without the load phases. Starts simulated istiods (one sidecar each: the proxy asks them
 * nothing before its first request) and `node dist/main.js` exactly as the bench does (ProxyProcess:
 * static discovery, TLS, AUTH_MODE=jwks with a local JWKS file), waits for /healthz and `--settle-ms`,
 * then reads /proc/<pid>/status, V8's heap from /metrics, and splits the anonymous RSS from
 * /proc/<pid>/smaps. One fresh proxy per rep; prints each reading and the median, in MiB.
 * `--proxy-env NODE_OPTIONS=--max-semi-space-size=8` and the like try runtime settings.
 */
const MIB = 1024 * 1024;
const HERE = dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = resolve(HERE, '../../..');

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      istiods: { type: 'string', default: '10' },
      reps: { type: 'string', default: '5' },
      'settle-ms': { type: 'string', default: '1000' },
      'proxy-env': { type: 'string', multiple: true },
      'node-flag': { type: 'string', multiple: true },
      main: { type: 'string' },
      verbose: { type: 'boolean', default: false },
    },
  });
  const istiodCount = Number(values.istiods);
  const reps = Number(values.reps);
  const settleMs = Number(values['settle-ms']);
  const env: Record<string, string> = {};
  for (const pair of values['proxy-env'] ?? []) env[pair.slice(0, pair.indexOf('='))] = pair.slice(pair.indexOf('=') + 1);
  const mainJs = resolve(values.main ?? join(REPO_ROOT, 'dist/main.js'));

  const credentials = await createBenchCredentials();
  const spec: FleetSpec = {
    istiods: Array.from({ length: istiodCount }, (_, i) => ({
      name: `istiod-${i}`,
      delayMs: 0,
      proxyGroups: [{ prefix: 'idle', namespace: 'default', count: 1 }],
    })),
    tls: { certFile: credentials.istiodCertFile, keyFile: credentials.istiodKeyFile },
    memoizeAnswers: true,
  };
  const fleet = await ChildLink.start<FleetInfo>(join(HERE, 'istiod-fleet.js'), spec, { label: 'istiod-fleet', readyTimeoutMs: 60_000 });
  const rows: Array<Record<string, number>> = [];
  try {
    for (let rep = 0; rep < reps; rep++) {
      const proxy = await ProxyProcess.start({
        mainJs,
        istiods: fleet.info.istiods,
        credentials,
        env,
        nodeFlags: values['node-flag'] ?? [],
        startTimeoutMs: 30_000,
        forwardOutput: values.verbose,
      });
      try {
        await sleep(settleMs);
        const memory = proxy.memory();
        const runtime = await proxy.runtimeMemory();
        const row = {
          vmRss: memory.rssBytes / MIB,
          rssAnon: memory.anonRssBytes / MIB,
          rssFile: memory.fileRssBytes / MIB,
          heapTotal: runtime.heapTotalBytes / MIB,
          heapUsed: runtime.heapUsedBytes / MIB,
          external: runtime.externalBytes / MIB,
          ...anonymousMappings(proxy.pid),
        };
        rows.push(row);
        console.log(`rep ${rep + 1}: ${format(row)}`);
      } finally {
        await proxy.stop();
      }
    }
  } finally {
    await fleet.stop().catch(() => undefined);
    credentials.remove();
  }
  const median: Record<string, number> = {};
  for (const key of Object.keys(rows[0] ?? {})) {
    const sorted = rows.map((row) => row[key]).sort((a, b) => a - b);
    median[key] = sorted[Math.floor(sorted.length / 2)];
  }
  console.log(`median (${rows.length} reps, ${istiodCount} istiods, ${settleMs} ms after ready): ${format(median)}`);
}

/**
 * The anonymous RSS split, approximately, by who holds it: `mallocArenas` are glibc's main arena
 * (`[heap]`) and its per-thread arenas (64 MiB-aligned heaps followed by their PROT_NONE reserve;
 * freed memory stays there, e.g. V8's compiler zones from start-up); `otherAnon` is every other
 * anonymous mapping, mostly V8's heap pages (new space, old space, code).
 */
function anonymousMappings(pid: number): { mallocArenas: number; otherAnon: number } {
  const mappings: Array<{ start: bigint; perms: string; name: string; anonKb: number }> = [];
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const header = /^([0-9a-f]+)-[0-9a-f]+ (\S+) \S+ \S+ \S+(?:\s+(.*))?$/.exec(line);
    if (header) mappings.push({ start: BigInt(`0x${header[1]}`), perms: header[2], name: header[3] ?? '', anonKb: 0 });
    else if (line.startsWith('Anonymous:') && mappings.length > 0) mappings[mappings.length - 1].anonKb = Number(line.split(/\s+/)[1]);
  }
  let arenasKb = 0;
  let otherKb = 0;
  mappings.forEach((mapping, i) => {
    if (mapping.name && mapping.name !== '[heap]') return;
    const threadArena = mapping.start % 0x4000000n === 0n && mapping.perms === 'rw-p' && mappings[i + 1]?.perms === '---p';
    if (mapping.name === '[heap]' || threadArena) arenasKb += mapping.anonKb;
    else otherKb += mapping.anonKb;
  });
  return { mallocArenas: arenasKb / 1024, otherAnon: otherKb / 1024 };
}

function format(row: Record<string, number>): string {
  return Object.entries(row)
    .map(([key, value]) => `${key} ${value.toFixed(1)}`)
    .join(', ');
}

main().catch((err: unknown) => {
  console.error((err as Error)?.stack ?? String(err));
  process.exit(1);
});
