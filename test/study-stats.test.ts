// Study statistics against values worked out by hand or from closed forms: t quantiles against the printed
// table and the exact formulas for 1, 2 and 4 degrees of freedom, a paired interval computed on paper,
// bootstrap determinism and coverage, verdict edges, curve areas and balanced accuracy on small examples.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { normalArray } from '../src/rng.ts';
import {
  areaUnderCurve, balancedAccuracy, bootstrapInterval, classesCovered, firstReach, formatInterval, inverseParticipationRatio,
  labelEntropy, meanAndSd, pairedInterval, quantileSorted, StatsError, studentTCdf, studentTQuantile, verdict,
} from '../src/study/stats.ts';

const close = (got: number, want: number, tolerance: number, what: string) =>
  assert.ok(Math.abs(got - want) <= tolerance, `${what}: got ${got}, expected ${want} (+-${tolerance})`);

test('t quantiles match the printed table (two-sided 95%)', () => {
  const table: [number, number][] = [[1, 12.706], [2, 4.303], [4, 2.776], [9, 2.262], [29, 2.045]];
  for (const [df, want] of table) close(studentTQuantile(0.975, df), want, 1e-3, `t_0.975,${df}`);
  // 99% column and a one-sided 90% value from the same table.
  close(studentTQuantile(0.995, 4), 4.604, 1e-3, 't_0.995,4');
  close(studentTQuantile(0.9, 9), 1.383, 1e-3, 't_0.9,9');
  // Symmetry, the median, and the normal limit z_0.975 = 1.959964.
  close(studentTQuantile(0.025, 9), -studentTQuantile(0.975, 9), 1e-12, 'symmetry');
  assert.is(studentTQuantile(0.5, 3), 0);
  close(studentTQuantile(0.975, 1e7), 1.959964, 1e-5, 'normal limit');
  assert.is(studentTQuantile(1, 3), Infinity);
  assert.is(studentTQuantile(0, 3), -Infinity);
});

test('t quantiles and CDF match the closed forms for 1, 2 and 4 degrees of freedom', () => {
  for (const p of [0.001, 0.05, 0.3, 0.6, 0.9, 0.975, 0.999, 0.99999]) {
    // df 1 (Cauchy): tan(pi (p - 1/2)); df 2: (2p - 1) / sqrt(2p(1 - p)).
    const cauchy = Math.tan(Math.PI * (p - 0.5));
    close(studentTQuantile(p, 1), cauchy, 1e-9 * Math.max(1, Math.abs(cauchy)), `df 1, p ${p}`);
    const two = (2 * p - 1) / Math.sqrt(2 * p * (1 - p));
    close(studentTQuantile(p, 2), two, 1e-9 * Math.max(1, Math.abs(two)), `df 2, p ${p}`);
    // df 4: a = 4p(1-p), q = cos(acos(sqrt a) / 3) / sqrt a, t = sign(p - 1/2) 2 sqrt(q - 1).
    const a = 4 * p * (1 - p), q = Math.cos(Math.acos(Math.sqrt(a)) / 3) / Math.sqrt(a);
    const four = Math.sign(p - 0.5) * 2 * Math.sqrt(q - 1);
    close(studentTQuantile(p, 4), four, 1e-8 * Math.max(1, Math.abs(four)), `df 4, p ${p}`);
  }
  for (const t of [-30, -2, -0.1, 0, 0.5, 3, 100]) {
    close(studentTCdf(t, 1), 0.5 + Math.atan(t) / Math.PI, 1e-12, `cdf df 1 at ${t}`);
    close(studentTCdf(t, 2), 0.5 + t / (2 * Math.sqrt(2 + t * t)), 1e-12, `cdf df 2 at ${t}`);
  }
  assert.throws(() => studentTQuantile(0.975, 0), (e: Error) => e instanceof StatsError && /degrees of freedom must be > 0/.test(e.message));
  assert.throws(() => studentTQuantile(1.2, 3), /quantile probability must be in \[0, 1\]/);
});

test('paired t interval on a hand-computed example', () => {
  // Accuracy in points, five seeds. Differences 2, 2, -1, 4, 2: mean 1.8; squared deviations .04 .04 7.84 4.84
  // .04 sum to 12.8, variance 12.8/4 = 3.2, sd 1.78885, standard error sqrt(3.2/5) = 0.8.
  // t_0.975,4 = 2.7764451052: half-width 2.2211560842, interval [-0.4211560842, 4.0211560842].
  const interval = pairedInterval([80, 82, 79, 85, 81], [78, 80, 80, 81, 79]);
  assert.is(interval.method, 't');
  assert.is(interval.n, 5);
  assert.is(interval.level, 0.95);
  close(interval.mean, 1.8, 1e-12, 'mean');
  close(interval.sd, Math.sqrt(3.2), 1e-12, 'sd');
  close(interval.low, -0.4211560842, 1e-8, 'low');
  close(interval.high, 4.0211560842, 1e-8, 'high');
  assert.is(verdict(interval), 'tie');
  assert.is(formatInterval(interval), '+1.80 [-0.42, +4.02] (95% t, n=5)');
  // 90%: t_0.95,4 = 2.1318467813, half-width 1.705477425.
  const ninety = pairedInterval([80, 82, 79, 85, 81], [78, 80, 80, 81, 79], 0.9);
  close(ninety.low, 1.8 - 1.705477425, 1e-8, '90% low');
  assert.is(verdict(ninety), 'win');
  // Order matters: b - a mirrors the interval.
  const mirrored = pairedInterval([78, 80, 80, 81, 79], [80, 82, 79, 85, 81]);
  close(mirrored.low, -interval.high, 1e-12, 'mirror');
});

test('paired interval: fewer than 2 pairs is infinite with a note; equal differences have zero width', () => {
  const one = pairedInterval([0.8], [0.7]);
  assert.is(one.low, -Infinity);
  assert.is(one.high, Infinity);
  close(one.mean, 0.1, 1e-15, 'mean of one pair');
  assert.match(one.note!, /one pair/);
  assert.is(verdict(one), 'tie');
  assert.match(pairedInterval([], []).note!, /no pairs/);
  const flat = pairedInterval([3, 4, 5], [1, 2, 3]);
  assert.equal([flat.low, flat.high, flat.sd], [2, 2, 0]);
  assert.match(flat.note!, /zero-width/);
  assert.throws(() => pairedInterval([1, 2], [1]), /equal lengths .* got 2 and 1/);
  assert.throws(() => pairedInterval([1, NaN], [1, 2]), /a\[1\] is NaN/);
  assert.throws(() => pairedInterval([1, 2], [1, 2], 95), /level must be in \(0, 1\)/);
});

test('bootstrap: seeded, percentile of resampled means, degenerate cases', () => {
  const diffs = [0.5, -0.2, 1.1, 0.4, 0.9, 0.3, -0.1, 0.7];
  const a = bootstrapInterval(diffs, 0.95, 2000, 7);
  assert.equal(bootstrapInterval(diffs, 0.95, 2000, 7), a);
  // Differences on a fine grid, so that two seeds' resampled means do not share order statistics by chance
  // (the means of tenths fall on multiples of 1/80, and the 2.5% quantiles of two seeds often coincide).
  const fine = diffs.map((d, i) => d + Math.sqrt(i + 2) / 1000);
  const b = bootstrapInterval(fine, 0.95, 2000, 7), c = bootstrapInterval(fine, 0.95, 2000, 8);
  assert.ok(b.low !== c.low && b.high !== c.high, 'the seed is ignored');
  assert.is(a.method, 'bootstrap');
  assert.is(a.resamples, 2000);
  close(a.mean, 0.45, 1e-12, 'mean');
  assert.ok(a.low < 0.45 && a.high > 0.45 && a.low > Math.min(...diffs) && a.high < Math.max(...diffs));
  // Close to the t interval on well-behaved data (within a third of its half-width).
  const t = pairedInterval(diffs, new Array(8).fill(0));
  close(a.low, t.low, (t.high - t.low) / 6, 'bootstrap low vs t');
  close(a.high, t.high, (t.high - t.low) / 6, 'bootstrap high vs t');
  // Two pairs 0 and 1: resampled means are 0, 1/2, 1 with chances 1/4, 1/2, 1/4, so the 2.5% and 97.5%
  // quantiles are 0 and 1, and the 40%..60% range is exactly 1/2.
  const two = bootstrapInterval([0, 1], 0.95, 4000, 1);
  assert.equal([two.low, two.high], [0, 1]);
  const middle = bootstrapInterval([0, 1], 0.2, 4000, 1);
  assert.equal([middle.low, middle.high], [0.5, 0.5]);
  assert.is(bootstrapInterval([2], 0.95, 100, 1).high, Infinity);
  assert.throws(() => bootstrapInterval(diffs, 0.95, 0, 1), /resamples must be a positive integer/);
});

test('coverage: both 95% intervals contain the true mean about 95% of the time', () => {
  // 200 studies of 20 normal differences with mean 0.3, sd 1. Coverage is binomial with sd 1.5%: the t
  // interval must land in [0.90, 0.99]; the percentile bootstrap under-covers a little at n = 20, [0.87, 0.99].
  // Using the sd instead of the standard error, or the z quantile, or the wrong tail would fall outside.
  const studies = 200, n = 20, truth = 0.3;
  let tCovered = 0, bootCovered = 0;
  for (let s = 0; s < studies; s++) {
    const diffs = Array.from(normalArray(n, 1000 + s, 3, truth, 1));
    const t = pairedInterval(diffs, new Array(n).fill(0));
    if (t.low <= truth && truth <= t.high) tCovered++;
    const boot = bootstrapInterval(diffs, 0.95, 1000, s);
    if (boot.low <= truth && truth <= boot.high) bootCovered++;
  }
  assert.ok(tCovered / studies >= 0.9 && tCovered / studies <= 0.99, `t coverage ${tCovered / studies}`);
  assert.ok(bootCovered / studies >= 0.87 && bootCovered / studies <= 0.99, `bootstrap coverage ${bootCovered / studies}`);
});

test('verdict: strict bounds against the margin', () => {
  assert.is(verdict({ low: 1e-12, high: 1 }), 'win');
  assert.is(verdict({ low: 0, high: 1 }), 'tie');
  assert.is(verdict({ low: -1, high: -1e-12 }), 'loss');
  assert.is(verdict({ low: -1, high: 0 }), 'tie');
  assert.is(verdict({ low: -1, high: 1 }), 'tie');
  assert.is(verdict({ low: 0.5, high: 2 }, 0.5), 'tie');
  assert.is(verdict({ low: 0.51, high: 2 }, 0.5), 'win');
  assert.is(verdict({ low: -2, high: -0.5 }, 0.5), 'tie');
  assert.is(verdict({ low: -2, high: -0.51 }, 0.5), 'loss');
  assert.is(verdict({ low: 0.2, high: 0.4 }, 0.5), 'tie');
  assert.is(verdict({ low: -Infinity, high: Infinity }), 'tie');
  assert.is(verdict({ low: NaN, high: NaN }), 'tie');
  assert.throws(() => verdict({ low: 1, high: 2 }, -1), /margin must be >= 0/);
});

test('area under the curve: trapezoids, held to xMax, cut at xMax, start convention', () => {
  // (0, .1) (100, .5) (200, .7) to 400: 100 * .3 + 100 * .6 + 200 * .7 = 230, mean 0.575.
  const curve = [{ x: 0, y: 0.1 }, { x: 100, y: 0.5 }, { x: 200, y: 0.7 }];
  close(areaUnderCurve(curve, 400), 0.575, 1e-15, 'held to xMax');
  close(areaUnderCurve([...curve].reverse(), 400), 0.575, 1e-15, 'unsorted input');
  // Ends exactly at the last point: 90 / 200.
  close(areaUnderCurve(curve, 200), 0.45, 1e-15, 'ends at the last point');
  // Cut at 150: the y at 150 is 0.6; 30 + 50 * 0.55 = 57.5, over 150.
  close(areaUnderCurve(curve, 150), 57.5 / 150, 1e-15, 'cut inside a segment');
  close(areaUnderCurve([{ x: 0, y: 0 }, { x: 100, y: 1 }], 50), 0.25, 1e-15, 'triangle');
  // No point at 0: the first accuracy held back (50 + 60 + 70 = 180 of 300), or a line from `start`.
  const late = [{ x: 100, y: 0.5 }, { x: 200, y: 0.7 }];
  close(areaUnderCurve(late, 300), 0.6, 1e-15, 'held back to 0');
  close(areaUnderCurve(late, 300, { start: 0.1 }), 160 / 300, 1e-15, 'from chance at 0');
  // A constant curve has the constant as its mean, whatever the grid.
  close(areaUnderCurve([{ x: 13, y: 0.8 }, { x: 40, y: 0.8 }, { x: 41, y: 0.8 }], 1000), 0.8, 1e-15, 'constant');
  assert.ok(Number.isNaN(areaUnderCurve([], 100)));
  assert.throws(() => areaUnderCurve(curve, 0), /xMax must be a positive number/);
  assert.throws(() => areaUnderCurve([{ x: 1, y: NaN }], 10), /point 0 is \(1, NaN\)/);
});

test('firstReach: the first evaluation at or above the target, or null', () => {
  const points = [{ x: 300, y: 0.8 }, { x: 100, y: 0.6 }, { x: 200, y: 0.75 }, { x: 400, y: 0.7 }];
  assert.is(firstReach(points, 0.75), 200);
  assert.is(firstReach(points, 0.6), 100);
  assert.is(firstReach(points, 0.76), 300);
  assert.is(firstReach(points, 0.9), null);
  assert.is(firstReach([], 0.5), null);
});

test('balanced accuracy, label entropy, classes covered', () => {
  // Recalls 3/4, 1/2, 1: mean 0.75 (plain accuracy would be 5/7); class 3 absent is left out.
  const labels = [0, 0, 0, 0, 1, 1, 2];
  const predicted = [0, 0, 0, 1, 1, 0, 2];
  close(balancedAccuracy(predicted, labels, 3), 0.75, 1e-15, 'balanced');
  close(balancedAccuracy(predicted, Uint8Array.from(labels), 4), 0.75, 1e-15, 'absent class');
  close(balancedAccuracy([1, 1, 1, 1], [1, 1, 1, 0], 2), 0.5, 1e-15, 'majority guesser');
  assert.ok(Number.isNaN(balancedAccuracy([], [], 3)));
  assert.throws(() => balancedAccuracy([0], [0, 1], 2), /1 predictions for 2 labels/);
  assert.throws(() => balancedAccuracy([0, 0], [0, 5], 2), /label 5 at index 1 is out of range for 2 classes/);

  close(labelEntropy([0, 0, 1, 1], 2), Math.LN2, 1e-15, 'two balanced');
  close(labelEntropy(Array.from({ length: 50 }, (_, i) => i % 10), 10), Math.log(10), 1e-14, 'ten balanced');
  assert.is(labelEntropy([3, 3, 3], 5), 0);
  // -(3/4 ln 3/4 + 1/4 ln 1/4) = 0.5623351446.
  close(labelEntropy([0, 0, 0, 1], 2), 0.5623351446188083, 1e-15, 'three to one');
  assert.ok(Number.isNaN(labelEntropy([], 2)));
  assert.is(classesCovered([0, 4, 4, 2], 5), 3);
});

test('inverse participation ratio: 1/n spread, 1 localised, scale and sign free', () => {
  assert.is(inverseParticipationRatio([0, 0, 1, 0]), 1);
  close(inverseParticipationRatio([1, -1, 1, -1]), 0.25, 1e-15, 'spread');
  // (1 + 16) / (1 + 4)^2 = 0.68, at any scale and sign.
  close(inverseParticipationRatio([1, 2]), 0.68, 1e-15, 'two');
  close(inverseParticipationRatio([-1e200, 2e200]), 0.68, 1e-15, 'huge');
  close(inverseParticipationRatio([3e-200, -6e-200]), 0.68, 1e-15, 'tiny');
  // The demo's Fiedler vector: one sample at 0.98, 63 near 0.025: strongly localised.
  const localised = [0.98, ...new Array(63).fill(Math.sqrt((1 - 0.98 ** 2) / 63))];
  assert.ok(inverseParticipationRatio(localised) > 0.9);
  assert.ok(Number.isNaN(inverseParticipationRatio([0, 0])));
  assert.ok(Number.isNaN(inverseParticipationRatio([])));
});

test('meanAndSd and quantileSorted', () => {
  const { n, mean, sd } = meanAndSd([2, 4, 4, 4, 5, 5, 7, 9]);
  assert.is(n, 8);
  assert.is(mean, 5);
  close(sd, Math.sqrt(32 / 7), 1e-15, 'sample sd');
  // Tiny differences on a large mean keep their spread (the one-pass formula would not).
  close(meanAndSd([1e9 + 1, 1e9 + 2, 1e9 + 3]).sd, 1, 1e-6, 'shifted sd');
  // R's type 7: quantile(c(1, 2, 3, 4), 0.25) = 1.75.
  assert.is(quantileSorted([1, 2, 3, 4], 0.25), 1.75);
  assert.is(quantileSorted([1, 2, 3, 4], 1), 4);
  assert.is(quantileSorted([5], 0.3), 5);
});

test.run();
