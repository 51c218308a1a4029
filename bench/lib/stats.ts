/** Small statistics helpers for the benchmarks (no dependencies). */

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Nearest-rank percentile, p in [0, 100]. */
export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * s.length);
  return s[Math.min(s.length - 1, Math.max(0, rank - 1))];
}

export function mean(xs: number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
}

/** "min–max" of a sample, rounded like `fmt`. */
export function spread(xs: number[]): string {
  return xs.length ? `${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))}` : '';
}

/** Three significant digits, at most two decimals, no exponent. */
export function fmt(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return 'n/a';
  const a = Math.abs(x);
  if (a === 0) return '0';
  if (a >= 100) return String(Math.round(x));
  if (a >= 10) return (Math.round(x * 10) / 10).toString();
  if (a >= 1) return (Math.round(x * 100) / 100).toString();
  return x.toPrecision(2).replace(/\.?0+$/, '');
}

/** Milliseconds since an hrtime.bigint() origin. */
export function msSince(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** One repetition's figure and the 1-minute load average when it started. */
export interface Sample {
  v: number;
  load: number;
}

/** the machine's core count: a repetition started at a higher load average is marked */
export function cores(): number {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  return (require('node:os') as typeof import('node:os')).cpus().length;
}

/** the 1-minute load average now */
export function load1(): number {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  return (require('node:os') as typeof import('node:os')).loadavg()[0];
}

export function sampleMedian(s: Sample[]): number | null {
  return s.length ? median(s.map((x) => x.v)) : null;
}

/**
 * "min–max over n" and, when some repetitions started with the load average above the core count, which
 * ones ("2 of 5 under load > 2: 3.1, 2.6"): such a figure may be inflated by other work on the machine.
 */
export function describeSamples(s: Sample[]): string {
  if (!s.length) return 'n/a';
  const c = cores();
  const loaded = s.filter((x) => x.load > c);
  const base = `${spread(s.map((x) => x.v))} over ${s.length}`;
  return loaded.length ? `${base}, ${loaded.length} under load > ${c} (${loaded.map((x) => x.load.toFixed(1)).join(', ')})*` : base;
}
