/** Latency statistics over raw samples; nearest-rank percentiles, so p99 is always an observed sample. */
export interface LatencySummary {
  count: number;
  medianMs: number;
  p99Ms: number;
  meanMs: number;
  minMs: number;
  maxMs: number;
}

export function percentile(samples: readonly number[], fraction: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(fraction * sorted.length)));
  return sorted[rank - 1];
}

export function median(samples: readonly number[]): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

export function summarize(samples: readonly number[]): LatencySummary {
  const count = samples.length;
  return {
    count,
    medianMs: round(median(samples)),
    p99Ms: round(percentile(samples, 0.99)),
    meanMs: round(count ? samples.reduce((sum, value) => sum + value, 0) / count : Number.NaN),
    minMs: round(count ? Math.min(...samples) : Number.NaN),
    maxMs: round(count ? Math.max(...samples) : Number.NaN),
  };
}

/** Three decimals: sub-millisecond differences matter for overhead ratios, more digits are noise. */
export function round(value: number, digits = 3): number {
  if (!Number.isFinite(value)) return value;
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

export function ratio(numerator: number, denominator: number): number {
  return denominator > 0 && Number.isFinite(numerator) ? round(numerator / denominator) : Number.NaN;
}
