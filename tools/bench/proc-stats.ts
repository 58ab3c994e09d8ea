import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

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
