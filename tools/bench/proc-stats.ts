import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';

const FALLBACK_CLOCK_TICKS = 100;
let clockTicks: number | undefined;

/** Linux /proc readings of another process; NaN where /proc is unavailable. */
export interface ProcessMemory {
  /** VmHWM: the peak resident set since the process started (or since resetPeakRss). */
  peakRssBytes: number;
  rssBytes: number;
  /** RssAnon: heap, stacks, malloc'd and mmap'd buffers. */
  anonRssBytes: number;
  /** RssFile: mapped files, mostly the node binary's code and shared libraries. */
  fileRssBytes: number;
}

export function readMemory(pid: number): ProcessMemory {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const bytes = (field: string) => statusKilobytes(status, field) * 1024;
    return { peakRssBytes: bytes('VmHWM'), rssBytes: bytes('VmRSS'), anonRssBytes: bytes('RssAnon'), fileRssBytes: bytes('RssFile') };
  } catch {
    return { peakRssBytes: Number.NaN, rssBytes: Number.NaN, anonRssBytes: Number.NaN, fileRssBytes: Number.NaN };
  }
}

/**
 * Resets VmHWM to the current VmRSS (`echo 5 > /proc/<pid>/clear_refs`, Linux ≥ 4.0), so the next
 * peak belongs to what follows; false where that is not possible (the peak then covers the whole life).
 */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** CPU time and minor page faults a process has used so far (all threads); NaN where /proc is unavailable. */
export interface CpuReading {
  userMs: number;
  systemMs: number;
  /** minflt: pages the kernel mapped in on first touch (fresh memory), without I/O. */
  minorFaults: number;
}

export function readCpu(pid: number): CpuReading {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may contain spaces; fields are counted from after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // minflt, utime, stime: fields 10, 14 and 15 of proc(5), i.e. 7, 11 and 12 after the name.
    const ms = (ticks: string) => (Number(ticks) * 1000) / ticksPerSecond();
    return { userMs: ms(fields[11]), systemMs: ms(fields[12]), minorFaults: Number(fields[7]) };
  } catch {
    return { userMs: Number.NaN, systemMs: Number.NaN, minorFaults: Number.NaN };
  }
}

/** The key readThreadCpu gives the main thread (the one whose id is the process id: it runs JavaScript). */
export const MAIN_THREAD = '(main)';

/**
 * User + system CPU ms per thread: the main thread as MAIN_THREAD, the others summed by name (`comm`:
 * `V8 DefaultWorke` for V8's GC and compiler helpers, `libuv-worker` for the thread pool, ...).
 */
export function readThreadCpu(pid: number): Record<string, number> {
  const byName: Record<string, number> = {};
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      try {
        const stat = readFileSync(`/proc/${pid}/task/${task}/stat`, 'utf8');
        const name = task === String(pid) ? MAIN_THREAD : stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        byName[name] = (byName[name] ?? 0) + ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond();
      } catch {
        // the thread ended between readdir and read
      }
    }
  } catch {
    // no /proc
  }
  return byName;
}

/** `after − before`, field by field. */
export function cpuSince(before: CpuReading, after: CpuReading): CpuReading {
  return {
    userMs: after.userMs - before.userMs,
    systemMs: after.systemMs - before.systemMs,
    minorFaults: after.minorFaults - before.minorFaults,
  };
}

/** User + system CPU time the process has used so far, in ms. */
export function readCpuMs(pid: number): number {
  const { userMs, systemMs } = readCpu(pid);
  return userMs + systemMs;
}

/** Time a process's threads ran on a CPU and waited, runnable, for one (/proc/<pid>/task/<tid>/schedstat, all threads). */
export interface ScheduleReading {
  runMs: number;
  waitMs: number;
}

export function readSchedule(pid: number): ScheduleReading {
  try {
    let runNs = 0;
    let waitNs = 0;
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      try {
        const [run, wait] = readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').trim().split(' ').map(Number);
        runNs += run;
        waitNs += wait;
      } catch {
        // the thread ended between readdir and read
      }
    }
    return { runMs: runNs / 1e6, waitMs: waitNs / 1e6 };
  } catch {
    return { runMs: Number.NaN, waitMs: Number.NaN };
  }
}

/**
 * Of the time a process wanted a CPU between two readings, the share it spent waiting for one: near
 * 0 on an idle machine; towards 1 when other work (here: other engineers' tests) keeps it off the
 * CPUs, which stretches every latency and throughput figure measured meanwhile.
 */
export function waitShare(before: ScheduleReading, after: ScheduleReading): number {
  const run = after.runMs - before.runMs;
  const wait = after.waitMs - before.waitMs;
  return run + wait > 0 ? Math.round((wait / (run + wait)) * 1000) / 1000 : Number.NaN;
}

const TCP_ESTABLISHED = '01';

/**
 * TCP connections this process has established to `port` (any local address), from /proc/net/tcp{,6}
 * filtered by the sockets among /proc/self/fd; NaN where /proc is unavailable.
 */
export function countOwnConnectionsTo(port: number): number {
  try {
    const inodes = new Set<string>();
    for (const fd of readdirSync('/proc/self/fd')) {
      try {
        const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
        if (match) inodes.add(match[1]);
      } catch {
        // closed between readdir and readlink
      }
    }
    const portHex = port.toString(16).toUpperCase().padStart(4, '0');
    let count = 0;
    for (const table of ['/proc/self/net/tcp', '/proc/self/net/tcp6']) {
      const rows = readFileSync(table, 'utf8').trim().split('\n').slice(1);
      for (const row of rows) {
        // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
        const fields = row.trim().split(/\s+/);
        if (fields[2]?.endsWith(`:${portHex}`) && fields[3] === TCP_ESTABLISHED && inodes.has(fields[9])) count++;
      }
    }
    return count;
  } catch {
    return Number.NaN;
  }
}

function statusKilobytes(status: string, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  return match ? Number(match[1]) : Number.NaN;
}

function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || FALLBACK_CLOCK_TICKS;
    } catch {
      clockTicks = FALLBACK_CLOCK_TICKS;
    }
  }
  return clockTicks;
}
