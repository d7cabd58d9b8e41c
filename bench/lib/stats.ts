// Small statistics for benchmark samples. These machines are shared and noisy: medians, not
// means, and ratios of samples taken in the same run.

/** Median of the samples (mean of the middle two for an even count). Throws on none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of no samples');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Nearest-rank percentile (p in 0..100). Throws on no samples. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new RangeError('percentile of no samples');
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be 0..100, got ${p}`);
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

/** Summary of a sample set, as the results files carry it. */
export interface Summary {
  readonly n: number;
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly p95: number;
}

export function summarize(values: readonly number[]): Summary {
  return {
    n: values.length,
    median: median(values),
    min: Math.min(...values),
    max: Math.max(...values),
    p95: percentile(values, 95),
  };
}

/**
 * Median of per-round ratios ours/reference. Pairing by round cancels slow drifts of the machine
 * (another helper's job starting) that a ratio of two medians would keep.
 */
export function pairedRatio(ours: readonly number[], reference: readonly number[]): number {
  if (ours.length !== reference.length || ours.length === 0) {
    throw new RangeError(`paired ratio needs the same non-zero number of samples, got ${ours.length} and ${reference.length}`);
  }
  return median(ours.map((x, i) => (reference[i] === 0 ? Number.NaN : x / reference[i]!)));
}
