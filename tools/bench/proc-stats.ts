import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

const FALLBACK_CLOCK_TICKS = 100;
let clockTicks: number | undefined;

/** Linux /proc readings of another process; NaN where /proc is unavailable. */
export interface ProcessMemory {
  /** VmHWM: the peak resident set since the process started. */
  peakRssBytes: number;
  rssBytes: number;
}

export function readMemory(pid: number): ProcessMemory {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return { peakRssBytes: statusKilobytes(status, 'VmHWM') * 1024, rssBytes: statusKilobytes(status, 'VmRSS') * 1024 };
  } catch {
    return { peakRssBytes: Number.NaN, rssBytes: Number.NaN };
  }
}

/** User + system CPU time the process has used so far, in ms. */
export function readCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may contain spaces; fields are counted from after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of proc(5))
    return (ticks * 1000) / ticksPerSecond();
  } catch {
    return Number.NaN;
  }
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
