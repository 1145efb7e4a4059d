// Statistics of a study (issue 12): a selector against random over paired seeds. Seeds are paired (the same
// initialisation, order and augmentation for every selector), so the unit of evidence is the per-seed
// difference, and the interval is on the mean of those differences: a paired Student-t interval by default, a
// seeded percentile bootstrap as the alternative when the differences look far from normal. A verdict comes
// from the interval, never from one run. Everything is float64 and pure; nothing here touches the GPU.
import { CpuRandom } from '../rng.ts';

export interface Interval {
  /** 't': Student-t on the paired differences; 'bootstrap': percentile bootstrap of their mean. */
  method: 't' | 'bootstrap';
  /** Two-sided coverage, e.g. 0.95. */
  level: number;
  /** Number of pairs. */
  n: number;
  /** Mean difference (a - b). */
  mean: number;
  /** Sample standard deviation of the differences (n - 1 in the denominator); NaN below 2 pairs. */
  sd: number;
  low: number;
  high: number;
  /** Why the interval is degenerate, when it is (fewer than 2 pairs, all differences equal). */
  note?: string;
  /** bootstrap only. */
  resamples?: number;
  seed?: number;
}

export class StatsError extends Error {
  override name = 'StatsError';
}

function checkLevel(level: number): void {
  if (!(level > 0 && level < 1)) throw new StatsError(`interval level must be in (0, 1), got ${level}`);
}

function checkFinite(values: ArrayLike<number>, what: string): void {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) throw new StatsError(`${what}[${i}] is ${values[i]}, not a finite number`);
}

/** Per-pair differences a[i] - b[i]; a and b must have the same length (one value per seed, in seed order). */
export function pairedDifferences(a: ArrayLike<number>, b: ArrayLike<number>): number[] {
  if (a.length !== b.length) throw new StatsError(`paired samples need equal lengths (one value per seed), got ${a.length} and ${b.length}`);
  checkFinite(a, 'a');
  checkFinite(b, 'b');
  return Array.from({ length: a.length }, (_, i) => a[i] - b[i]);
}

/** Mean and sample standard deviation (n - 1); NaN where undefined (no value, or one for sd). */
export function meanAndSd(values: ArrayLike<number>): { n: number; mean: number; sd: number } {
  const n = values.length;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += values[i];
  const mean = n ? sum / n : NaN;
  // Two passes: the one-pass formula loses everything when the differences are tiny against their mean.
  let squares = 0;
  for (let i = 0; i < n; i++) squares += (values[i] - mean) ** 2;
  return { n, mean, sd: n >= 2 ? Math.sqrt(squares / (n - 1)) : NaN };
}

function degenerate(method: Interval['method'], level: number, n: number, mean: number): Interval {
  return {
    method, level, n, mean, sd: NaN, low: -Infinity, high: Infinity,
    note: n === 0 ? 'no pairs: no estimate' : 'one pair: no interval (at least 2 seeds are needed)',
  };
}

/**
 * Mean of a - b over paired seeds with a Student-t interval: mean +- t_{(1+level)/2, n-1} * sd / sqrt(n).
 * With fewer than 2 pairs the interval is (-inf, inf) and `note` says why, so a verdict on it is a tie.
 */
export function pairedInterval(a: ArrayLike<number>, b: ArrayLike<number>, level = 0.95): Interval {
  checkLevel(level);
  const diffs = pairedDifferences(a, b);
  const { n, mean, sd } = meanAndSd(diffs);
  if (n < 2) return degenerate('t', level, n, mean);
  const half = studentTQuantile((1 + level) / 2, n - 1) * (sd / Math.sqrt(n));
  const interval: Interval = { method: 't', level, n, mean, sd, low: mean - half, high: mean + half };
  if (sd === 0) interval.note = 'all differences equal: zero-width interval';
  return interval;
}

/**
 * Percentile bootstrap of the mean of `diffs`: `resamples` resamples with replacement (seeded, so a study's
 * table is reproducible), the interval between the (1-level)/2 and (1+level)/2 quantiles of the resampled
 * means (linear interpolation between order statistics, R's type 7). It assumes no normality but under-covers
 * with few pairs (it cannot be wider than the data's range); prefer the t interval below about 10 seeds.
 */
export function bootstrapInterval(diffs: ArrayLike<number>, level = 0.95, resamples = 10000, seed = 0): Interval {
  checkLevel(level);
  checkFinite(diffs, 'diffs');
  if (!Number.isInteger(resamples) || resamples < 1) throw new StatsError(`bootstrap resamples must be a positive integer, got ${resamples}`);
  const { n, mean, sd } = meanAndSd(diffs);
  if (n < 2) return { ...degenerate('bootstrap', level, n, mean), resamples, seed };
  // Stream 0xb007: distinct from the trainer's and the conditions' streams under the same seed.
  const random = new CpuRandom(seed, 0xb007);
  const means = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) {
    let sum = 0;
    for (let k = 0; k < n; k++) sum += diffs[Math.floor(random.next() * n)];
    means[r] = sum / n;
  }
  means.sort();
  const interval: Interval = {
    method: 'bootstrap', level, n, mean, sd, resamples, seed,
    low: quantileSorted(means, (1 - level) / 2), high: quantileSorted(means, (1 + level) / 2),
  };
  if (sd === 0) interval.note = 'all differences equal: zero-width interval';
  return interval;
}

/** The q-quantile of ascending values, R's type 7 (linear between order statistics). */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const h = (n - 1) * Math.min(1, Math.max(0, q));
  const lo = Math.floor(h);
  return lo + 1 < n ? sorted[lo] + (h - lo) * (sorted[lo + 1] - sorted[lo]) : sorted[lo];
}

export type Verdict = 'win' | 'loss' | 'tie';

/**
 * 'win' when the whole interval lies above +margin, 'loss' when it lies below -margin, else 'tie' (bounds
 * equal to the margin, NaN and infinite intervals included): an interval that touches the margin has not
 * excluded it.
 */
export function verdict(interval: { low: number; high: number }, margin = 0): Verdict {
  if (!(margin >= 0)) throw new StatsError(`verdict margin must be >= 0, got ${margin}`);
  if (interval.low > margin) return 'win';
  if (interval.high < -margin) return 'loss';
  return 'tie';
}

/** "+1.23 [+0.40, +2.06] (95% t, n=5)", values multiplied by `scale` (100 for accuracy in points). */
export function formatInterval(interval: Interval, scale = 1, digits = 2): string {
  const signed = (v: number) => (Number.isFinite(v) ? `${v * scale >= 0 ? '+' : ''}${(v * scale).toFixed(digits)}` : v > 0 ? '+inf' : v < 0 ? '-inf' : 'n/a');
  return `${signed(interval.mean)} [${signed(interval.low)}, ${signed(interval.high)}] (${Math.round(interval.level * 100)}% ${interval.method}, n=${interval.n})`;
}

// ---- Student t ---------------------------------------------------------------------------------------------

// Lanczos approximation (g = 7, 9 terms), relative error near 1e-15 for positive arguments.
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Gamma(x) for x > 0. */
export function lnGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  const z = x - 1;
  let sum = LANCZOS[0];
  for (let i = 1; i < 9; i++) sum += LANCZOS[i] / (z + i);
  const t = z + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(sum);
}

// Continued fraction of the incomplete beta (modified Lentz, as in Numerical Recipes' betacf); converges
// quickly for x < (a+1)/(a+b+2).
function betaContinuedFraction(a: number, b: number, x: number): number {
  const tiny = 1e-300;
  let c = 1, d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 10000; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d; if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c; if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d; h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d; if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c; if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const step = d * c;
    h *= step;
    if (Math.abs(step - 1) < 1e-16) break;
  }
  return h;
}

/**
 * The regularised incomplete beta I_x(a, b). `complement` = 1 - x, passed separately so that x close to 1
 * (small t in the t distribution) keeps its precision instead of being rebuilt as 1 - x.
 */
export function incompleteBeta(x: number, a: number, b: number, complement = 1 - x): number {
  if (x <= 0) return 0;
  if (complement <= 0) return 1;
  const front = Math.exp(lnGamma(a + b) - lnGamma(a) - lnGamma(b) + a * Math.log(x) + b * Math.log(complement));
  if (x < (a + 1) / (a + b + 2)) return (front * betaContinuedFraction(a, b, x)) / a;
  return 1 - (front * betaContinuedFraction(b, a, complement)) / b;
}

/** P(T <= t) for Student's t with `df` degrees of freedom (df > 0, need not be an integer). */
export function studentTCdf(t: number, df: number): number {
  if (!(df > 0)) throw new StatsError(`degrees of freedom must be > 0, got ${df}`);
  if (Number.isNaN(t)) return NaN;
  if (t === Infinity) return 1;
  if (t === -Infinity) return 0;
  const t2 = t * t;
  // P(|T| > |t|) = I_{df/(df+t^2)}(df/2, 1/2).
  const tail = 0.5 * incompleteBeta(df / (df + t2), df / 2, 0.5, t2 / (df + t2));
  return t > 0 ? 1 - tail : tail;
}

/**
 * The p-quantile of Student's t with `df` degrees of freedom: the CDF above inverted by bisection on |t| (the
 * CDF is monotone, so bisection cannot fail the way Newton can in the far tails; 200 halvings reach the
 * resolution of a double). t_{0.975} is 12.706 at df 1, 4.303 at 2, 2.776 at 4, 2.262 at 9, 2.045 at 29.
 */
export function studentTQuantile(p: number, df: number): number {
  if (!(df > 0)) throw new StatsError(`degrees of freedom must be > 0, got ${df}`);
  if (!(p >= 0 && p <= 1)) throw new StatsError(`quantile probability must be in [0, 1], got ${p}`);
  if (p === 0) return -Infinity;
  if (p === 1) return Infinity;
  if (p === 0.5) return 0;
  // Solve for the upper tail q = P(T > t) <= 1/2 with t > 0, then mirror.
  const q = p > 0.5 ? 1 - p : p;
  const upperTail = (t: number) => 0.5 * incompleteBeta(df / (df + t * t), df / 2, 0.5, (t * t) / (df + t * t));
  let low = 0, high = 1;
  while (upperTail(high) > q) {
    low = high;
    high *= 2;
    if (high > 1e300) break;
  }
  for (let i = 0; i < 200; i++) {
    const mid = 0.5 * (low + high);
    if (mid === low || mid === high) break;
    if (upperTail(mid) > q) low = mid;
    else high = mid;
  }
  const t = 0.5 * (low + high);
  return p > 0.5 ? t : -t;
}

// ---- curves --------------------------------------------------------------------------------------------

export interface CurvePoint {
  /** Images back-propagated (or seconds) when the accuracy was measured. */
  x: number;
  /** Accuracy, as a fraction. */
  y: number;
}

function sortedPoints(points: readonly CurvePoint[], what: string): CurvePoint[] {
  points.forEach((p, i) => {
    if (!Number.isFinite(p.x) || !Number.isFinite(p.y)) throw new StatsError(`${what}: point ${i} is (${p.x}, ${p.y}), not finite`);
  });
  // Stable: two evaluations at the same x keep their recorded order.
  return [...points].sort((p, q) => p.x - q.x);
}

/**
 * Mean accuracy over a budget: the area under accuracy against images back-propagated on [0, xMax], divided
 * by xMax. Conventions, chosen so that runs with different evaluation grids compare fairly:
 * - between points, trapezoids (accuracy changes gradually between evaluations);
 * - after the last point, its accuracy is held to xMax (a run that stopped early, or whose last evaluation
 *   came before the budget's end, keeps what it had: step-hold);
 * - points past xMax are cut at xMax, interpolating the segment that crosses it;
 * - before the first point: with `start` (e.g. chance, 1/classes), a line from (0, start) to the first point;
 *   without it, the first accuracy held back to 0. Pass `start` when evaluations begin late: holding flatters
 *   a curve whose first evaluation comes after much training.
 * No points give NaN.
 */
export function areaUnderCurve(points: readonly CurvePoint[], xMax: number, options: { start?: number } = {}): number {
  if (!(xMax > 0 && Number.isFinite(xMax))) throw new StatsError(`area under the curve: xMax must be a positive number, got ${xMax}`);
  const sorted = sortedPoints(points, 'area under the curve').filter((p) => p.x >= 0);
  if (sorted.length === 0) return NaN;
  if (sorted[0].x > 0) sorted.unshift({ x: 0, y: options.start ?? sorted[0].y });
  let area = 0;
  for (let i = 1; i < sorted.length; i++) {
    const p = sorted[i - 1], q = sorted[i];
    if (p.x >= xMax) break;
    if (q.x > xMax) {
      const yAtMax = p.y + ((q.y - p.y) * (xMax - p.x)) / (q.x - p.x);
      area += ((p.y + yAtMax) / 2) * (xMax - p.x);
      return area / xMax;
    }
    area += ((p.y + q.y) / 2) * (q.x - p.x);
  }
  const last = sorted[sorted.length - 1];
  if (last.x < xMax) area += last.y * (xMax - last.x);
  return area / xMax;
}

/**
 * The x of the first evaluation (in x order) whose accuracy is >= target, or null: "not reached" is a result,
 * not a zero or an infinity. No interpolation: a run is credited when it was seen at the target.
 */
export function firstReach(points: readonly CurvePoint[], target: number): number | null {
  for (const p of sortedPoints(points, 'first reach')) if (p.y >= target) return p.x;
  return null;
}

// ---- classification and kept-set diagnostics -------------------------------------------------------------

function checkLabels(labels: ArrayLike<number>, classes: number, what: string): void {
  if (!Number.isInteger(classes) || classes < 1) throw new StatsError(`${what}: classes must be a positive integer, got ${classes}`);
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i];
    if (!Number.isInteger(label) || label < 0 || label >= classes) throw new StatsError(`${what}: label ${label} at index ${i} is out of range for ${classes} classes`);
  }
}

/**
 * Mean per-class recall over the classes present in `labels` (absent classes have no recall and are left out
 * rather than counted as 0 or 1). Under imbalance:R plain accuracy rewards ignoring the tail; this does not.
 * No labels give NaN.
 */
export function balancedAccuracy(predicted: ArrayLike<number>, labels: ArrayLike<number>, classes: number): number {
  if (predicted.length !== labels.length) throw new StatsError(`balanced accuracy: ${predicted.length} predictions for ${labels.length} labels`);
  checkLabels(labels, classes, 'balanced accuracy');
  const total = new Float64Array(classes), correct = new Float64Array(classes);
  for (let i = 0; i < labels.length; i++) {
    total[labels[i]]++;
    if (predicted[i] === labels[i]) correct[labels[i]]++;
  }
  let sum = 0, present = 0;
  for (let c = 0; c < classes; c++) {
    if (total[c] === 0) continue;
    sum += correct[c] / total[c];
    present++;
  }
  return present ? sum / present : NaN;
}

/** Samples per class. */
export function classCounts(labels: ArrayLike<number>, classes: number): Float64Array {
  checkLabels(labels, classes, 'class counts');
  const counts = new Float64Array(classes);
  for (let i = 0; i < labels.length; i++) counts[labels[i]]++;
  return counts;
}

/**
 * Shannon entropy of the label distribution of a (kept) set, in nats: ln(classes) when the set is balanced,
 * 0 when it holds one class. A selector that collapses onto a few classes shows here first. No labels: NaN.
 */
export function labelEntropy(labels: ArrayLike<number>, classes: number): number {
  const counts = classCounts(labels, classes);
  const n = labels.length;
  if (n === 0) return NaN;
  let entropy = 0;
  for (const count of counts) if (count > 0) entropy -= (count / n) * Math.log(count / n);
  return entropy;
}

/** Number of distinct classes among `labels`. */
export function classesCovered(labels: ArrayLike<number>, classes: number): number {
  return classCounts(labels, classes).reduce((covered, count) => covered + (count > 0 ? 1 : 0), 0);
}

/**
 * Inverse participation ratio sum v^4 / (sum v^2)^2 of a vector (the Fiedler vector v2): 1/n when spread
 * evenly over n entries, 1 when carried by one entry. Localisation of v2 on an outlier (issue 12: one sample at
 * 0.98, the others under 0.06) reads as an IPR near 1. Scale- and sign-invariant; a zero vector gives NaN.
 */
export function inverseParticipationRatio(v: ArrayLike<number>): number {
  // Scaled by the largest magnitude first so that fourth powers neither overflow nor underflow.
  let largest = 0;
  for (let i = 0; i < v.length; i++) largest = Math.max(largest, Math.abs(v[i]));
  if (!(largest > 0) || !Number.isFinite(largest)) return NaN;
  let squares = 0, fourths = 0;
  for (let i = 0; i < v.length; i++) {
    const s = (v[i] / largest) ** 2;
    squares += s;
    fourths += s * s;
  }
  return fourths / (squares * squares);
}
