import { performance } from 'node:perf_hooks';

/**
 * A Go `time.Now().String()` in UTC, e.g. `2026-08-22 15:00:18.123456789 +0000 UTC m=+0.410000001`.
 * adsc sends exactly this as `response_nonce` on every request, so istiod (and the proxy) see a
 * non-empty nonce that never equals one they issued. The monotonic part counts from process start,
 * as Go's does.
 */
export function goTimeNonce(): string {
  const monotonicNanos = BigInt(Math.round(performance.now() * 1e6));
  const wallNanos = BigInt(Math.round(performance.timeOrigin * 1e6)) + monotonicNanos;
  return `${goWallClock(wallNanos)} m=+${goSeconds(monotonicNanos)}`;
}

/** Go's `2006-01-02 15:04:05.999999999 -0700 MST` layout in UTC: trailing zero nanoseconds dropped. */
export function goWallClock(epochNanos: bigint): string {
  const millis = Number(epochNanos / 1_000_000n);
  const nanos = Number(epochNanos % 1_000_000_000n);
  const iso = new Date(millis).toISOString(); // 2026-08-22T15:00:18.123Z
  const fraction = nanos === 0 ? '' : `.${String(nanos).padStart(9, '0').replace(/0+$/, '')}`;
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${fraction} +0000 UTC`;
}

function goSeconds(nanos: bigint): string {
  return `${nanos / 1_000_000_000n}.${String(nanos % 1_000_000_000n).padStart(9, '0')}`;
}

const SECOND = 1;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const YEAR = 365 * DAY;

/**
 * k8s.io/apimachinery `duration.HumanDuration`, which istioctl uses for the `SYNCED (5m)` ages.
 * Takes milliseconds; Go truncates every division towards zero, hence Math.trunc throughout.
 */
export function humanDuration(elapsedMs: number): string {
  const seconds = Math.trunc(elapsedMs / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 2 * MINUTE) return `${seconds}s`;
  const minutes = Math.trunc(seconds / MINUTE);
  if (minutes < 10) {
    const rest = seconds % MINUTE;
    return rest === 0 ? `${minutes}m` : `${minutes}m${rest}s`;
  }
  if (minutes < 3 * 60) return `${minutes}m`;
  const hours = Math.trunc(seconds / HOUR);
  if (hours < 8) {
    const rest = minutes % 60;
    return rest === 0 ? `${hours}h` : `${hours}h${rest}m`;
  }
  if (hours < 48) return `${hours}h`;
  const days = Math.trunc(hours / 24);
  if (hours < 24 * 8) {
    const rest = hours % 24;
    return rest === 0 ? `${days}d` : `${days}d${rest}h`;
  }
  if (hours < 24 * 365 * 2) return `${days}d`;
  const years = Math.trunc(seconds / YEAR);
  if (hours < 24 * 365 * 8) {
    const rest = days % 365;
    return rest === 0 ? `${years}y` : `${years}y${rest}d`;
  }
  return `${years}y`;
}

const DURATION_UNITS_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Parses a Go duration such as `30s`, `1m30s`, `500ms` (istioctl's `--timeout` syntax) into ms. */
export function parseGoDuration(text: string): number {
  const match = /^([+-]?)((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|ms|s|m|h))+$/.test(text);
  if (!match && text !== '0') throw new Error(`time: invalid duration "${text}"`);
  let total = 0;
  for (const [, value, unit] of text.matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/g)) {
    total += Number(value) * DURATION_UNITS_MS[unit];
  }
  return text.startsWith('-') ? -total : total;
}
