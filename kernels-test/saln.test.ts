// The SALN selector: the Fiedler rules (exactly k distinct ascending indices, sign invariance, ties by index),
// planted clusters split by the Fiedler vector's sign, invariances of the whole path, determinism, degenerate
// batches (tiny, identical, disconnected, zero rows) without NaN, and the GPU scores against the float64
// reference path (src/reference/saln.ts) within the Davis-Kahan bound of the measured residual.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { getRuntime } from '../src/gpu/runtime.ts';
import { Tensor } from '../src/tensor.ts';
import { normalArray, uniformArray } from '../src/rng.ts';
import { SalnSelector, fiedlerVector, pickByRule, FIEDLER_RULES, type FiedlerRule, type SalnDetails, type SalnOptions } from '../src/select/saln.ts';
import { selectionRandom } from '../src/select/common.ts';
import type { Affinity, LaplacianKind } from '../src/ops/graph.ts';
import { salnReference, deflatedEigen } from '../src/reference/saln.ts';

const rt = await getRuntime();

// ---- inputs ----------------------------------------------------------------------------------------------

/** Non-negative features of `sizes.length` clusters: each on its own block of dimensions plus weak noise everywhere. */
function plantedClusters(sizes: number[], F: number, seed: number, crossTalk = 0.05): { features: Float32Array; cluster: number[] } {
  const B = sizes.reduce((p, q) => p + q, 0);
  const noise = uniformArray(B * F, seed, 1, 0, 1);
  const cluster = sizes.flatMap((size, c) => new Array(size).fill(c));
  const block = Math.floor(F / sizes.length);
  const features = Float32Array.from({ length: B * F }, (_, index) => {
    const i = Math.floor(index / F), j = index % F;
    const own = Math.floor(j / block) === cluster[i];
    return (own ? 1 : crossTalk) * noise[index];
  });
  return { features, cluster };
}

/**
 * Samples along a curve: f_i = relu(cos(phi_i) a + sin(phi_i) b + noise), phi_i in [0, pi/2): similarity falls with
 * |phi_i - phi_j|, so the graph is path-like and its Fiedler vector spreads its values (few near-ties).
 */
function curveFeatures(B: number, F: number, seed: number): Float32Array {
  const phi = uniformArray(B, seed, 1, 0, Math.PI / 2);
  const a = uniformArray(F, seed, 2, -1, 1), b = uniformArray(F, seed, 3, -1, 1);
  const noise = normalArray(B * F, seed, 4, 0, 0.05);
  return Float32Array.from({ length: B * F }, (_, index) => {
    const i = Math.floor(index / F), j = index % F;
    return Math.max(0, Math.cos(phi[i]) * a[j] + Math.sin(phi[i]) * b[j] + noise[index]);
  });
}

/** This file tests the Fiedler-vector rules; the selector's defaults (spectral clusters) have their own file. */
const FIEDLER_DEFAULTS: SalnOptions = { rule: 'proportional', featureSource: 'learner' };

async function select(options: SalnOptions, features: Float32Array, B: number, keep: number, seed = 1, step = 0) {
  const F = features.length / B;
  const t = Tensor.upload(rt, features, [B, F]);
  const labels = Tensor.upload(rt, new Uint32Array(B), [B], 'u32');
  const before = rt.pool.report().liveBytes;
  const result = await new SalnSelector({ ...FIEDLER_DEFAULTS, ...options }).select({ rt, batchSize: B, keep, labels, features: t, seed, step });
  assert.is(rt.pool.report().liveBytes, before, 'the selector leaves nothing allocated');
  t.dispose(); labels.dispose();
  return { ...result, details: result.details as unknown as SalnDetails };
}

function assertValidChoice(indices: Uint32Array, keep: number, B: number, what: string): void {
  assert.is(indices.length, keep, `${what}: ${keep} indices`);
  for (let i = 0; i < indices.length; i++) {
    assert.ok(indices[i] < B, `${what}: index ${indices[i]} in range`);
    if (i > 0) assert.ok(indices[i] > indices[i - 1], `${what}: ascending and distinct`);
  }
}

const COMBINATIONS: [Affinity, LaplacianKind][] = [['clip', 'unnormalized'], ['clip', 'normalized'], ['shift', 'unnormalized'], ['shift', 'normalized'], ['exp', 'unnormalized'], ['exp', 'normalized']];

// ---- the rules ---------------------------------------------------------------------------------------------

test('rules by hand: high, low, balanced (alternating sides from the side of the largest |v2|, zeros last), proportional', () => {
  const v = [0.5, -0.1, 0.3, -0.6, 0, 0.2];
  assert.equal(Array.from(pickByRule(v, 3, 'high').indices), [0, 2, 3]);
  assert.equal(Array.from(pickByRule(v, 2, 'low').indices), [1, 4]);
  // Order: 3 (-0.6), 0 (0.5), 1 (-0.1), 2 (0.3), 5 (0.2, the negative side is spent), 4 (zero).
  assert.equal(Array.from(pickByRule(v, 3, 'balanced').indices), [0, 1, 3]);
  assert.equal(Array.from(pickByRule(v, 5, 'balanced').indices), [0, 1, 2, 3, 5]);
  assert.equal(Array.from(pickByRule(v, 6, 'balanced').indices), [0, 1, 2, 3, 4, 5]);
  // Ties go to the lower index, whichever side they are on.
  assert.equal(Array.from(pickByRule([0.3, -0.3, 0.3], 1, 'high').indices), [0]);
  assert.equal(Array.from(pickByRule([0.3, -0.1, 0.9, 0.1], 1, 'low').indices), [1]);
  assert.equal(Array.from(pickByRule([0.3, -0.1, 0.9, 0.1], 2, 'low').indices), [1, 3]);
  assert.equal(Array.from(pickByRule([0.3, -0.3, 0.3], 2, 'balanced').indices), [0, 1]);
  assert.equal(Array.from(pickByRule([-0.3, 0.3, -0.3], 2, 'balanced').indices), [0, 1]);
  // proportional: 3 positive (0.5, 0.3, 0.2), 2 negative (-0.6, -0.1), 1 zero; keep 3 -> round(3 * 3/6) = 2 from
  // the positive side (0, 2), 1 from the negative side (3).
  assert.equal(Array.from(pickByRule(v, 3, 'proportional').indices), [0, 2, 3]);
  // keep 5: 3 from the positive side (round 2.5 up), 2 from the negative side; the zero is left out.
  assert.equal(Array.from(pickByRule(v, 5, 'proportional').indices), [0, 1, 2, 3, 5]);
  // Equal sides: the one holding the highest |v2| takes the rounded-up share, whatever its sign.
  assert.equal(Array.from(pickByRule([0.1, -0.9, 0.2, -0.3], 1, 'proportional').indices), [1]);
  assert.equal(Array.from(pickByRule([-0.1, 0.9, -0.2, 0.3], 1, 'proportional').indices), [1]);
  const scores = pickByRule(v, 1, 'low').scores;
  assert.ok(Math.abs(scores[4] - 0.6) < 1e-7 && scores[3] === 0, 'low: max|v2| - |v2|, higher preferred');
});

test('every rule gives exactly k distinct ascending in-range indices, and flipping v2 changes nothing', () => {
  for (const n of [1, 2, 3, 10, 33]) {
    // Ties (quantised values) and zeros on purpose.
    const v = Array.from(uniformArray(n, 5, n, -1, 1), (x) => Math.round(x * 4) / 4);
    const flipped = v.map((x) => -x);
    for (const rule of FIEDLER_RULES) {
      for (let k = 0; k <= n; k++) {
        const picked = pickByRule(v, k, rule);
        assertValidChoice(picked.indices, k, n, `${rule} n=${n} k=${k}`);
        assert.equal(Array.from(pickByRule(flipped, k, rule).indices), Array.from(picked.indices), `${rule} n=${n} k=${k} flipped`);
      }
    }
  }
  assert.throws(() => pickByRule([1, 2], 3, 'high'), /keep must be an integer in \[0, 2\]/);
});

/**
 * How many of `keep` each side of the sign split gets, [favoured side, other side, zeros], written from the rules'
 * documentation and not from pickByRule. The favoured side: balanced opens with it (it holds the highest |v2|),
 * proportional's is the larger (equal sizes: the one holding the highest |v2|). Quotas round to nearest, halves up.
 */
function expectedSideCounts(rule: FiedlerRule, favoured: number, other: number, zeros: number, keep: number): [number, number, number] {
  if (rule === 'balanced') {
    const fromSides = Math.min(keep, favoured + other);
    const first = Math.min(favoured, Math.max(Math.ceil(fromSides / 2), fromSides - other));
    return [first, fromSides - first, keep - fromSides];
  }
  if (rule === 'proportional') {
    const share = (keep * favoured) / (favoured + other + zeros);
    const whole = Math.floor(share);
    let first = Math.min(favoured, share - whole >= 0.5 ? whole + 1 : whole);
    let second = Math.min(other, keep - first);
    // What the sides' quotas leave goes to the zeros, then to the favoured side's rest, then the other's.
    const fromZeros = Math.min(zeros, keep - first - second);
    let left = keep - first - second - fromZeros;
    const more = Math.min(favoured - first, left);
    first += more; left -= more;
    second += left;
    return [first, second, fromZeros];
  }
  throw new Error(`no independent side counts for rule '${rule}': add them to expectedSideCounts`);
}

/** A Fiedler-like vector with the given side sizes, distinct magnitudes interleaved across the sides. */
function sidedVector(positive: number, negative: number, zeros: number, seed: number): number[] {
  const n = positive + negative + zeros;
  const magnitudes = Array.from(uniformArray(n, seed, 1, 0.1, 1));
  const order = Array.from(uniformArray(n, seed, 2, 0, 1)).map((u, i) => [u, i]).sort((a, b) => a[0] - b[0]).map(([, i]) => i);
  const v = new Array<number>(n);
  order.forEach((at, k) => { v[at] = k < positive ? magnitudes[k] : k < positive + negative ? -magnitudes[k] : 0; });
  return v;
}

function sideCounts(v: ArrayLike<number>, indices: ArrayLike<number>): { positive: number; negative: number; zero: number } {
  const counts = { positive: 0, negative: 0, zero: 0 };
  for (const i of Array.from(indices)) counts[v[i] > 0 ? 'positive' : v[i] < 0 ? 'negative' : 'zero']++;
  return counts;
}

test('side quotas against an independent count, fractional quotas included (7 of 10: 4.2 -> 4, 4.9 -> 5)', () => {
  // [positive, negative, zeros, keep, expected positive, expected negative]: written out by hand.
  const byHand: [number, number, number, number, number, number][] = [
    [6, 4, 0, 7, 4, 3], // 7 * 6 / 10 = 4.2
    [7, 3, 0, 7, 5, 2], // 4.9
    [4, 6, 0, 7, 3, 4], // the negative side is the larger: 4.2 of it
    [5, 3, 2, 7, 4, 3], // 3.5 rounds up
    [5, 3, 2, 9, 5, 3], // 4.5 -> 5 from the larger, 3 from the other, 1 zero
    [13, 11, 0, 9, 5, 4], // 4.875
    [14, 10, 0, 9, 5, 4], // 5.25
  ];
  for (const [p, q, z, keep, wantPositive, wantNegative] of byHand) {
    const v = sidedVector(p, q, z, p * 31 + q);
    const got = sideCounts(v, pickByRule(v, keep, 'proportional').indices);
    assert.equal([got.positive, got.negative], [wantPositive, wantNegative], `proportional ${p}+/${q}-/${z}0 keep ${keep}`);
  }
  // Every keep on several splits, for the rules that count sides; each side's picks are its highest |v2|.
  for (const [p, q, z] of [[6, 4, 0], [7, 3, 0], [3, 8, 2], [5, 5, 0], [5, 5, 3], [1, 9, 1], [10, 0, 2], [0, 4, 0]]) {
    const v = sidedVector(p, q, z, 7 * p + q + 100 * z);
    const n = v.length;
    const largest = (side: number) => Math.max(0, ...v.filter((x) => Math.sign(x) === side).map(Math.abs));
    for (const rule of FIEDLER_RULES.filter((r) => r !== 'high' && r !== 'low')) {
      const positiveFavoured = rule === 'proportional' && p !== q ? p > q : largest(1) > largest(-1);
      for (let keep = 0; keep <= n; keep++) {
        const picked = pickByRule(v, keep, rule).indices;
        const [a, b, zeros] = expectedSideCounts(rule, positiveFavoured ? p : q, positiveFavoured ? q : p, z, keep);
        const got = sideCounts(v, picked);
        const what = `${rule} ${p}+/${q}-/${z}0 keep ${keep}`;
        assert.equal([got.positive, got.negative, got.zero], positiveFavoured ? [a, b, zeros] : [b, a, zeros], what);
        for (const side of [1, -1]) {
          const members = v.map((x, i) => [x, i]).filter(([x]) => Math.sign(x) === side).sort((x, y) => Math.abs(y[0]) - Math.abs(x[0]));
          const kept = new Set(Array.from(picked));
          const count = members.filter(([, i]) => kept.has(i)).length;
          assert.ok(members.slice(0, count).every(([, i]) => kept.has(i)), `${what}: side ${side} keeps its highest |v2|`);
        }
      }
    }
  }
});

// ---- the selector ------------------------------------------------------------------------------------------

test('options: defaults, featureSource sets needs, unknown or bad options are one-line errors', () => {
  // The defaults: the screening study's strongest variant (reference features, clusters, learnability inside).
  const saln = new SalnSelector();
  assert.equal(saln.needs, { features: 'reference', staleLoss: true, referenceLoss: true });
  assert.equal(saln.options, {
    affinity: 'clip', temperature: 0.5, laplacian: 'unnormalized', rule: 'clusters', lanczosSteps: 100, tolerance: 1e-5,
    graph: 'dense', neighbours: 10, within: 'learnability', chunks: 16, diversity: 1, trim: 0.1,
  });
  assert.equal(new SalnSelector({ rule: 'proportional' }).needs, { features: 'reference' });
  assert.equal(new SalnSelector(FIEDLER_DEFAULTS).needs, { features: 'learner' });
  assert.throws(() => new SalnSelector({ affinity: 'cosine' as Affinity }), /saln selector: option affinity must be one of clip, shift, exp/);
  assert.throws(() => new SalnSelector({ temperature: 0 }), /option temperature must be a positive finite number/);
  assert.throws(() => new SalnSelector({ lanczosSteps: 2.5 }), /option lanczosSteps must be a positive integer/);
  assert.throws(() => new SalnSelector({ ratio: 0.5 } as SalnOptions), /unknown option 'ratio'/);
});

test('a missing or mis-shaped features tensor and a bad keep are one-line errors', async () => {
  const labels = Tensor.upload(rt, new Uint32Array(4), [4], 'u32');
  const features = Tensor.upload(rt, new Float32Array(12), [3, 4]);
  const saln = new SalnSelector();
  const base = { rt, batchSize: 4, keep: 2, labels, seed: 0, step: 0 };
  for (const [input, pattern] of [
    [base, /saln selector needs features \(\[4, F\] f32\)/],
    [{ ...base, features }, /features must be \[4, F\], got \[3, 4\]/],
    [{ ...base, keep: 5, features }, /keep must be an integer in \[1, 4\]/],
  ] as const) {
    try {
      await saln.select(input);
      assert.unreachable('should have thrown');
    } catch (e) {
      assert.match((e as Error).message, pattern);
    }
  }
  labels.dispose(); features.dispose();
});

test('planted clusters: the Fiedler vector\'s sign splits them exactly, for every affinity and Laplacian', async () => {
  const { features, cluster } = plantedClusters([17, 23], 32, 3);
  for (const [affinity, laplacian] of COMBINATIONS) {
    const { details, indices } = await select({ affinity, laplacian, rule: 'balanced' }, features, 40, 10);
    const what = `${affinity}/${laplacian}`;
    const side = Array.from(details.fiedler, (x) => x > 0);
    assert.ok(details.converged, `${what}: converged`);
    for (let i = 0; i < 40; i++) assert.is(side[i] === side[0], cluster[i] === cluster[0], `${what}: sample ${i}`);
    // balanced: half from each side of the split, i.e. from each cluster.
    assert.is(Array.from(indices).filter((i) => cluster[i] === 0).length, 5, `${what}: 5 of each cluster`);
  }
});

test('the same seed and step give the same choice; negated features give the identical result', async () => {
  const B = 30, F = 24;
  const features = curveFeatures(B, F, 8);
  for (const rule of FIEDLER_RULES) {
    const first = await select({ rule }, features, B, 11, 4, 9);
    const again = await select({ rule }, features, B, 11, 4, 9);
    assert.equal(Array.from(again.indices), Array.from(first.indices), `${rule}: same seed`);
    assert.equal(Array.from(again.details.fiedler), Array.from(first.details.fiedler), `${rule}: same Fiedler vector`);
    // -F gives the same unit rows up to sign and exactly the same products, so exactly the same graph.
    const negated = await select({ rule }, features.map((x) => -x), B, 11, 4, 9);
    assert.equal(Array.from(negated.indices), Array.from(first.indices), `${rule}: negated features`);
    assert.equal(Array.from(negated.scores!), Array.from(first.scores!), `${rule}: negated features, scores`);
  }
});

/**
 * Scores that may differ by `slack` can reorder only candidates within 2 slack of each other: `got` must be a
 * top-k of `scores` (among `candidates`) perturbed by at most slack: every kept score >= every dropped one - 2 slack.
 */
function assertTopKWithin(scores: ArrayLike<number>, got: Uint32Array, slack: number, what: string, candidates?: number[]): void {
  const kept = new Set(got);
  let lowestKept = Infinity, highestDropped = -Infinity;
  for (const i of candidates ?? Array.from({ length: scores.length }, (_, j) => j)) {
    if (kept.has(i)) lowestKept = Math.min(lowestKept, scores[i]);
    else highestDropped = Math.max(highestDropped, scores[i]);
  }
  assert.ok(lowestKept >= highestDropped - 2 * slack, `${what}: kept down to ${lowestKept}, dropped up to ${highestDropped}, slack ${slack}`);
}

test('permuting the feature columns, the samples or the start vector changes nothing beyond rounding', async () => {
  const B = 36, F = 20;
  const features = curveFeatures(B, F, 12);
  const base = await select({ rule: 'high' }, features, B, 12);
  // Feature columns reversed: the same similarities up to the dot products' summation order.
  const columns = features.map((_, index) => features[Math.floor(index / F) * F + (F - 1 - (index % F))]);
  // Samples shuffled: sample i of the new batch is sample order[i] of the old, the same graph relabelled.
  const order = Array.from({ length: B }, (_, i) => (i * 7) % B);
  const rows = features.map((_, index) => features[order[Math.floor(index / F)] * F + (index % F)]);
  const others = [
    { name: 'columns reversed', result: await select({ rule: 'high' }, columns, B, 12), map: (i: number) => i },
    { name: 'samples shuffled', result: await select({ rule: 'high' }, rows, B, 12), map: (i: number) => order[i] },
    { name: 'another start vector', result: await select({ rule: 'high' }, features, B, 12, 1, 5), map: (i: number) => i },
  ];
  for (const { name, result, map } of others) {
    // Both Fiedler vectors are within r / gap of the true one: their scores differ by at most the sum.
    const slack = 2 * Math.SQRT2 * (base.details.residual + result.details.residual) / (base.details.eigenvalues[1] - base.details.eigenvalues[0]) + 1e-6;
    const mapped = Uint32Array.from(result.indices, map).sort();
    assertTopKWithin(base.scores!, mapped, slack, name);
    for (let i = 0; i < B; i++) assert.ok(Math.abs(result.scores![i] - base.scores![map(i)]) <= slack, `${name}: score ${i}`);
  }
});

test('fiedlerVector: unit, its largest-magnitude entry positive, and to the bit what the selector uses (its time split aside)', async () => {
  const B = 40, F = 16;
  for (const laplacian of ['unnormalized', 'normalized'] as LaplacianKind[]) {
    const features = curveFeatures(B, F, 21);
    // The selector draws its Lanczos start vector first from the selection stream of (seed, step).
    const stream = selectionRandom(1, 0);
    const start = Float32Array.from({ length: B }, () => 2 * stream.next() - 1);
    const t = Tensor.upload(rt, features, [B, F]);
    const options = new SalnSelector({ laplacian }).options;
    const direct = await fiedlerVector(t, options, start);
    t.dispose();
    let at = 0;
    for (let i = 1; i < B; i++) if (Math.abs(direct.fiedler[i]) > Math.abs(direct.fiedler[at])) at = i;
    assert.ok(direct.fiedler[at] > 0, `${laplacian}: the largest-magnitude entry is positive`);
    assert.ok(Math.abs(Math.hypot(...direct.fiedler) - 1) <= 1e-5, `${laplacian}: unit`);
    const { details } = await select({ laplacian }, features, B, 10);
    assert.equal(Array.from(details.fiedler), Array.from(direct.fiedler), `${laplacian}: the same vector`);
    assert.equal(details.eigenvalues, direct.eigenvalues);
    assert.is(details.iterations, direct.iterations);
    assert.is(details.residual, direct.residual);
    assert.is(details.converged, direct.converged);
  }
});

// ---- degenerate batches ------------------------------------------------------------------------------------

test('B < 3 returns the first k; identical samples, zero rows, all-zero features and disconnected graphs give valid, NaN-free, repeatable choices', async () => {
  for (const B of [1, 2]) {
    for (let keep = 1; keep <= B; keep++) {
      const { indices, details } = await select({}, new Float32Array(B * 3).fill(1), B, keep);
      assert.equal(Array.from(indices), Array.from({ length: keep }, (_, i) => i));
      assert.is(details.fallback, 'batch < 3');
    }
  }
  const B = 16, F = 8;
  const identical = Float32Array.from({ length: B * F }, (_, i) => (i % F) + 1);
  const zeroRows = Float32Array.from(curveFeatures(B, F, 2)).fill(0, 3 * F, 4 * F).fill(0, 9 * F, 10 * F);
  const zeros = new Float32Array(B * F);
  const inputs: [string, Float32Array][] = [['identical samples', identical], ['two zero rows', zeroRows], ['all rows zero', zeros]];
  for (const [affinity, laplacian] of COMBINATIONS) {
    for (const rule of FIEDLER_RULES) {
      for (const [name, features] of inputs) {
        const what = `${name}, ${affinity}/${laplacian}/${rule}`;
        const first = await select({ affinity, laplacian, rule }, features, B, 5);
        const again = await select({ affinity, laplacian, rule }, features, B, 5);
        assertValidChoice(first.indices, 5, B, what);
        assert.ok(first.details.fiedler.every(Number.isFinite) && first.scores!.every(Number.isFinite), `${what}: no NaN`);
        assert.ok(first.details.eigenvalues.every(Number.isFinite) && Number.isFinite(first.details.residual), `${what}: finite spectrum`);
        assert.is(first.details.fallback, undefined, `${what}: from the Fiedler vector`);
        assert.equal(Array.from(again.indices), Array.from(first.indices), `${what}: repeatable`);
      }
    }
  }
  // Identical samples: every similarity is 1, so W = J - I and L = B I - J (L_sym = (B I - J) / (B - 1)): the
  // complement of the null vector is one eigenspace, found in a single step.
  const identicalResult = await select({}, identical, B, 5);
  assert.is(identicalResult.details.iterations, 1);
  assert.ok(Math.abs(identicalResult.details.eigenvalues[0] - B) <= 1e-5 * B, `${identicalResult.details.eigenvalues}`);
});

test('a disconnected graph: the Fiedler vector is constant on each component, its sign splits them', async () => {
  // Disjoint feature supports: similarity 0 across, so clip leaves no edge between the groups.
  const { features, cluster } = plantedClusters([6, 9], 30, 4, 0);
  for (const laplacian of ['unnormalized', 'normalized'] as LaplacianKind[]) {
    const { details } = await select({ affinity: 'clip', laplacian }, features, 15, 4);
    assert.ok(Math.abs(details.eigenvalues[0]) <= 1e-5 * 15, `${laplacian}: lambda_2 = ${details.eigenvalues[0]} is 0`);
    const side = Array.from(details.fiedler, (x) => x > 0);
    for (let i = 0; i < 15; i++) assert.is(side[i] === side[0], cluster[i] === cluster[0], `${laplacian}: sample ${i}`);
  }
});

// ---- against the float64 reference ---------------------------------------------------------------------------

interface ReferenceCase { B: number; F: number; affinity: Affinity; laplacian: LaplacianKind; rule: FiedlerRule; keep: number; temperature?: number }

const REFERENCE_CASES: ReferenceCase[] = [
  // Every rule, each on at least one combination; keep 9 of 24 gives fractional proportional quotas.
  ...COMBINATIONS.map(([affinity, laplacian], i) => ({ B: 24, F: 16, affinity, laplacian, rule: FIEDLER_RULES[i % FIEDLER_RULES.length], keep: 9 })),
  ...FIEDLER_RULES.map((rule, i) => ({ B: 30 + i, F: 12, affinity: COMBINATIONS[(i + 2) % 6][0], laplacian: COMBINATIONS[(i + 2) % 6][1], rule, keep: 10 + 3 * i })),
  { B: 37, F: 5, affinity: 'exp', laplacian: 'unnormalized', rule: 'low', keep: 18, temperature: 0.2 },
  { B: 64, F: 512, affinity: 'clip', laplacian: 'unnormalized', rule: 'high', keep: 32 },
  { B: 64, F: 512, affinity: 'shift', laplacian: 'normalized', rule: 'balanced', keep: 16 },
  { B: 64, F: 512, affinity: 'clip', laplacian: 'unnormalized', rule: 'proportional', keep: 23 },
];

test('GPU Fiedler vector, lambda_2, scores and choice match the float64 reference path', async () => {
  for (const c of REFERENCE_CASES) {
    const what = `B=${c.B} F=${c.F} ${c.affinity}/${c.laplacian}/${c.rule}`;
    const features = curveFeatures(c.B, c.F, c.B + c.F);
    const options = { affinity: c.affinity, laplacian: c.laplacian, rule: c.rule, temperature: c.temperature ?? 0.5 };
    const gpu = await select(options, features, c.B, c.keep);
    const ref = salnReference(features, c.B, c.F, c.keep, options);
    // The GPU vector's residual against the reference problem, in float64: it covers the f32 rounding of the
    // graph (whose kernels are bounded elementwise by their own cases) and the Lanczos stop at once.
    const { shifted } = deflatedEigen(ref.laplacian, ref.nullVector, c.B);
    const y = Float64Array.from(gpu.details.fiedler);
    const length = Math.hypot(...y);
    y.forEach((x, i) => { y[i] = x / length; });
    const theta = gpu.details.eigenvalues[0];
    let residual = 0;
    for (let i = 0; i < c.B; i++) {
      let s = 0;
      for (let k = 0; k < c.B; k++) s += shifted[i * c.B + k] * y[k];
      residual += (s - theta * y[i]) ** 2;
    }
    residual = Math.sqrt(residual);
    const norm = ref.values[ref.values.length - 1];
    // The Lanczos stop (1e-5 |L|) plus the f32 Laplacian's error, |dL| <= gamma_(F + B) |L| roughly: 1e-4 |L| is
    // ample for these sizes and still a real check.
    assert.ok(residual <= 1e-4 * norm, `${what}: residual ${residual} against |L| = ${norm}`);
    assert.ok(Math.abs(theta - ref.values[0]) <= residual + 1e-12, `${what}: lambda_2 ${theta} vs ${ref.values[0]}`);
    // Davis-Kahan: sin(angle) <= r / (lambda_3 - theta); unit vectors then differ by at most sqrt 2 sin(angle) in
    // any entry (after aligning signs); f32 storage adds half an ULP.
    const sine = residual / (ref.values[1] - theta);
    assert.ok(sine < 1e-2, `${what}: the bound must say something (sin <= ${sine})`);
    const slack = Math.SQRT2 * sine + 2 ** -24;
    // The documented sign: the largest-magnitude entry (the first among equals) is positive, exactly, on the GPU's
    // own f32 vector; against the reference no realignment where the largest entry is clear of the runner-up.
    const magnitude = Array.from(gpu.details.fiedler, Math.abs);
    const top = magnitude.indexOf(Math.max(...magnitude));
    assert.ok(gpu.details.fiedler[top] > 0, `${what}: v2's largest-magnitude entry ${gpu.details.fiedler[top]} must be positive`);
    const refMagnitude = Array.from(ref.fiedler, Math.abs).sort((a, b) => b - a);
    const sign = refMagnitude[0] - refMagnitude[1] > 2 * slack ? 1 : Math.sign(y.reduce((s, x, i) => s + x * ref.fiedler[i], 0));
    for (let i = 0; i < c.B; i++) assert.ok(Math.abs(sign * y[i] - ref.fiedler[i]) <= slack, `${what}: v2[${i}] ${sign * y[i]} vs ${ref.fiedler[i]} (slack ${slack})`);
    for (let i = 0; i < c.B; i++) assert.ok(Math.abs(gpu.scores![i] - ref.scores[i]) <= 2 * slack, `${what}: score ${i}`);
    // The choice, checked against |v2| of the reference vector and the independent side counts, not pickByRule.
    const refAbs = Array.from(ref.fiedler, Math.abs);
    if (c.rule === 'high' || c.rule === 'low') {
      assertTopKWithin(c.rule === 'high' ? refAbs : refAbs.map((m) => -m), gpu.indices, 2 * slack, what);
      continue;
    }
    // Sides are stable when no |v2| is within slack of 0; each side's picks are then a top-k of that side by |v2|
    // up to the slack, and the side counts are the independent ones, with either side favoured where the rule's
    // tie-break (the larger |v2| at the top of each side) is within the slack.
    assert.ok(ref.fiedler.every((x) => Math.abs(x) > slack), `${what}: a sample within the slack of the cut`);
    const members = (positive: boolean) => Array.from({ length: c.B }, (_, i) => i).filter((i) => (ref.fiedler[i] > 0) === positive);
    const [pos, neg] = [members(true), members(false)];
    const top1 = (side: number[]) => Math.max(...side.map((i) => refAbs[i]));
    const favourites = c.rule === 'proportional' && pos.length !== neg.length ? [pos.length > neg.length]
      : Math.abs(top1(pos) - top1(neg)) <= 2 * slack ? [true, false] : [top1(pos) > top1(neg)];
    const got = [pos, neg].map((side) => Array.from(gpu.indices).filter((i) => side.includes(i)).length);
    const allowed = favourites.map((positive) => {
      const [a, b] = expectedSideCounts(c.rule, (positive ? pos : neg).length, (positive ? neg : pos).length, 0, c.keep);
      return positive ? [a, b] : [b, a];
    });
    assert.ok(allowed.some(([p, q]) => p === got[0] && q === got[1]), `${what}: ${got} kept per side, expected one of ${JSON.stringify(allowed)}`);
    for (const side of [pos, neg]) {
      assertTopKWithin(refAbs, Uint32Array.from(Array.from(gpu.indices).filter((i) => side.includes(i))), 2 * slack, `${what}, one side`, side);
    }
  }
});

test('the Fiedler vector\'s largest-magnitude entry is positive whatever the Lanczos start vector', async () => {
  const B = 28, F = 10;
  const features = curveFeatures(B, F, 21);
  // Through the selector: its details carry the oriented vector.
  for (let step = 0; step < 4; step++) {
    const { details } = await select({ rule: 'high' }, features, B, 5, 3, step);
    const magnitude = Array.from(details.fiedler, Math.abs);
    const top = magnitude.indexOf(Math.max(...magnitude));
    assert.ok(details.fiedler[top] > 0, `start ${step}: v2[${top}] = ${details.fiedler[top]}`);
  }
  // fiedlerVector itself, from a start vector and its negation: Lanczos is exactly sign-symmetric in floating
  // point (every step negates with its start), so an unoriented result would come out negated for one of the two.
  const t = Tensor.upload(rt, features, [B, F]);
  const options = new SalnSelector().options;
  for (let k = 0; k < 2; k++) {
    const start = uniformArray(B, 40 + k, 0, -1, 1);
    const [plus, minus] = [await fiedlerVector(t, options, start), await fiedlerVector(t, options, start.map((x) => -x))];
    for (const { fiedler } of [plus, minus]) {
      const magnitude = Array.from(fiedler, Math.abs);
      const top = magnitude.indexOf(Math.max(...magnitude));
      assert.ok(fiedler[top] > 0, `start ${k}: v2[${top}] = ${fiedler[top]}`);
    }
    assert.equal(Array.from(minus.fiedler), Array.from(plus.fiedler), `start ${k}: the same vector from a negated start`);
  }
  t.dispose();
});

test.run();
