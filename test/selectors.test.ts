// The baseline selectors (none, random, loss, rho, jest) behind the Selector interface: the shape of every result,
// reproducibility, exact rankings against the float64 reference, JEST against the paper's algorithm and its
// sampling distribution against exact probabilities, and the errors of bad names, options and inputs.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { getRuntime } from '../src/gpu/runtime.ts';
import { Tensor } from '../src/tensor.ts';
import { uniformArray } from '../src/rng.ts';
import { selectionRandom } from '../src/select/common.ts';
import { NoneSelector } from '../src/select/none.ts';
import { RandomSelector, uniformSubset } from '../src/select/random.ts';
import { LossSelector } from '../src/select/loss.ts';
import { RhoSelector } from '../src/select/rho.ts';
import { JestSelector, jestSample, type JestOptions } from '../src/select/jest.ts';
import { createSelector, SELECTOR_NAMES } from '../src/select/registry.ts';
import type { SelectionInput, Selector } from '../src/select/types.ts';
import { jestPairScoreReference, jestReference, sequentialInclusionReference, topKReference } from '../src/reference/select.ts';
import { rejectsOneLine, throwsOneLine } from './assertions.ts';

const rt = await getRuntime();
const FEATURES = 8;
const CLASSES = 3;

interface HostInput { learner: Float32Array; reference: Float32Array; features: Float32Array; labels: Uint32Array }

function hostInput(batchSize: number, stream: number): HostInput {
  return {
    learner: uniformArray(batchSize, 11, stream, 0, 4),
    reference: uniformArray(batchSize, 12, stream, 0, 2),
    features: uniformArray(batchSize * FEATURES, 13, stream, -1, 1),
    labels: Uint32Array.from(uniformArray(batchSize, 14, stream, 0, CLASSES), (u) => Math.min(CLASSES - 1, Math.floor(u))),
  };
}

/** Uploads `host`, runs `fn` on the GPU input, and disposes the tensors whatever happens. */
async function withInput<T>(host: HostInput, keep: number, seed: number, step: number, fn: (input: SelectionInput) => Promise<T>): Promise<T> {
  const batchSize = host.learner.length;
  const tensors = {
    learnerLoss: Tensor.upload(rt, host.learner),
    referenceLoss: Tensor.upload(rt, host.reference),
    features: Tensor.upload(rt, host.features, [batchSize, FEATURES]),
    labels: Tensor.upload(rt, host.labels, [batchSize], 'u32'),
  };
  try {
    return await fn({ rt, batchSize, keep, seed, step, ...tensors });
  } finally {
    for (const t of Object.values(tensors)) t.dispose();
  }
}

const SELECTORS: [string, () => Selector][] = [
  ['none', () => new NoneSelector()],
  ['random', () => new RandomSelector()],
  ['loss', () => new LossSelector()],
  ['rho', () => new RhoSelector()],
  ['jest', () => new JestSelector()],
  ['jest (hard-negatives)', () => new JestSelector({ pairwise: 'hard-negatives', chunks: 4 })],
  ['jest (diversity)', () => new JestSelector({ pairwise: 'diversity', pairWeight: 0.5, features: 'reference' })],
];

const SIZES: [number, number][] = [[1, 1], [2, 1], [2, 2], [3, 1], [3, 2], [3, 3], [7, 1], [7, 3], [7, 7],
  [64, 1], [64, 13], [64, 64], [512, 1], [512, 102], [512, 512]];

test('every selector returns exactly keep (none: all) distinct in-range ascending indices', async () => {
  // Work earlier test files left in flight (its uniforms, its last buffers) is finished and released first, so
  // the baseline holds only what lives on.
  await rt.sync('selectors baseline');
  const before = rt.pool.report().liveBytes;
  for (const [batchSize, keep] of SIZES) {
    await withInput(hostInput(batchSize, batchSize + keep), keep, 3, 5, async (input) => {
      for (const [label, make] of SELECTORS) {
        const result = await make().select(input);
        const expected = label === 'none' ? batchSize : keep;
        const where = `${label}, B=${batchSize}, keep=${keep}`;
        assert.ok(result.indices instanceof Uint32Array, where);
        assert.is(result.indices.length, expected, where);
        for (let i = 0; i < expected; i++) {
          assert.ok(result.indices[i] < batchSize, `${where}: index ${result.indices[i]} out of range`);
          if (i > 0) assert.ok(result.indices[i] > result.indices[i - 1], `${where}: not strictly ascending`);
        }
        if (result.scores) assert.is(result.scores.length, batchSize, where);
        if (label.startsWith('jest')) {
          const chunks = result.details!.chunks as number[][];
          assert.equal([...chunks.flat()].sort((a, b) => a - b), [...result.indices], where);
        }
      }
    });
  }
  await rt.sync('selectors end');
  assert.is(rt.pool.report().liveBytes, before, 'selection leaks no GPU memory');
});

test('random and jest: the same seed and step give the same choice; other steps or seeds differ', async () => {
  const host = hostInput(64, 1);
  for (const make of [() => new RandomSelector(), () => new JestSelector(), () => new JestSelector({ pairwise: 'diversity' })]) {
    const pick = (seed: number, step: number) => withInput(host, 16, seed, step, async (input) => [...(await make().select(input)).indices].join(','));
    const first = await pick(7, 0);
    assert.is(await pick(7, 0), first, 'replay');
    const others = [first, await pick(7, 1), await pick(7, 2), await pick(7, 3), await pick(8, 0)];
    assert.is(new Set(others).size, others.length, 'steps 0-3 and another seed give five different subsets');
  }
});

test('random subsets are uniform: every candidate and every pair equally often (5 choose 2, 8000 draws)', () => {
  const draws = 8000;
  const single = new Float64Array(5), pairs = new Map<string, number>();
  for (let step = 0; step < draws; step++) {
    const subset = uniformSubset(5, 2, 2024, step);
    for (const i of subset) single[i] += 1 / draws;
    pairs.set(subset.join(','), (pairs.get(subset.join(',')) ?? 0) + 1 / draws);
  }
  // Binomial bounds as for the JEST statistics below: 4.5 standard errors.
  assert.ok(maxStandardError(single, new Float64Array(5).fill(0.4), draws) < 4.5, `inclusion ${[...single]}`);
  assert.is(pairs.size, 10);
  assert.ok(maxStandardError(Float64Array.from(pairs.values()), new Float64Array(10).fill(0.1), draws) < 4.5, `pairs ${[...pairs]}`);
});

test('loss picks the exact top-k with ties to the lower index, as the reference does', async () => {
  const known = Float32Array.of(0.5, 2, 2, 1, 3, 2, 0.1);
  const expected: Record<number, number[]> = { 1: [4], 2: [1, 4], 3: [1, 2, 4], 4: [1, 2, 4, 5], 5: [1, 2, 3, 4, 5], 7: [0, 1, 2, 3, 4, 5, 6] };
  const host = { ...hostInput(7, 2), learner: known };
  for (const [keep, indices] of Object.entries(expected)) {
    const result = await withInput(host, Number(keep), 0, 0, (input) => new LossSelector().select(input));
    assert.equal([...result.indices], indices, `keep ${keep}`);
    assert.equal([...result.scores!], [...known]);
  }
  // Many ties: losses quantised to 5 levels.
  for (const [batchSize, keep] of [[64, 13], [512, 102], [512, 1], [33, 32]]) {
    const quantised = Float32Array.from(uniformArray(batchSize, 3, batchSize), (u) => Math.floor(u * 5) / 4);
    const result = await withInput({ ...hostInput(batchSize, 3), learner: quantised }, keep, 0, 0, (input) => new LossSelector().select(input));
    assert.equal([...result.indices], topKReference(quantised, keep), `B=${batchSize}, keep=${keep}`);
  }
});

test('rho ranks learner - reference loss; with zero reference losses it is the loss ranking', async () => {
  for (const [batchSize, keep] of [[7, 3], [64, 13], [512, 102]]) {
    const host = hostInput(batchSize, 4);
    const zero = { ...host, reference: new Float32Array(batchSize) };
    const [rho, loss] = await withInput(zero, keep, 0, 0, (input) => Promise.all([new RhoSelector().select(input), new LossSelector().select(input)]));
    assert.equal([...rho.indices], [...loss.indices], `B=${batchSize}: zero reference`);
    const result = await withInput(host, keep, 0, 0, (input) => new RhoSelector().select(input));
    const learnability = Array.from(host.learner, (l, i) => l - host.reference[i]);
    assert.equal([...result.indices], topKReference(learnability, keep), `B=${batchSize}`);
    if (batchSize >= 64) assert.not.equal([...result.indices], [...loss.indices], 'the reference loss changes the choice');
  }
});

/** The dense JEST score matrix: learnability on the diagonal, the option's pair term off it. */
function scoreMatrix(host: HostInput, options: JestOptions): Float64Array {
  const n = host.learner.length;
  const matrix = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      matrix[i * n + j] = i === j ? host.learner[i] - host.reference[i]
        : options.pairwise && options.pairwise !== 'none'
          ? jestPairScoreReference(options.pairwise, options.pairWeight ?? 1, host.features, FEATURES, host.labels, i, j) : 0;
    }
  }
  return matrix;
}

test('jest draws exactly what the paper\'s Algorithm 1 draws on the dense score matrix, chunk by chunk', async () => {
  const cases: [number, number, JestOptions][] = [
    [7, 3, {}], [64, 13, {}], [64, 32, { chunks: 5, temperature: 0.5 }], [512, 102, {}],
    [64, 16, { pairwise: 'diversity', pairWeight: 0.5 }], [64, 20, { pairwise: 'hard-negatives', chunks: 4, temperature: 2 }],
    [7, 7, { pairwise: 'hard-negatives', pairWeight: 3, chunks: 7 }], [128, 25, { pairwise: 'diversity', chunks: 25 }],
  ];
  for (const [batchSize, keep, options] of cases) {
    const host = hostInput(batchSize, 5 + keep);
    for (const step of [0, 9]) {
      const result = await withInput(host, keep, 21, step, (input) => new JestSelector(options).select(input));
      const expected = jestReference(scoreMatrix(host, options), batchSize, keep, options.chunks ?? 16, options.temperature ?? 1, selectionRandom(21, step));
      assert.equal(result.details!.chunks, expected, `B=${batchSize}, keep=${keep}, ${JSON.stringify(options)}, step ${step}`);
    }
  }
});

/**
 * Sampling statistics, on the CPU core the selector runs after its download (the test above shows the selector
 * and the core agree): N draws with a fixed seed, steps 0..N-1. Each inclusion frequency is a binomial mean, so
 * |freq - p| <= 4.5 sqrt(p (1 - p) / N) holds with probability 1 - 7e-6 per candidate (normal approximation,
 * N p (1 - p) >= 100 here), 1 - 6e-5 for all 8 together: a failure means a wrong distribution, not bad luck.
 */
function inclusionFrequencies(logits: Float64Array, keep: number, chunks: number, temperature: number, draws: number) {
  const first = new Float64Array(logits.length), all = new Float64Array(logits.length);
  for (let step = 0; step < draws; step++) {
    const drawn = jestSample(logits, keep, chunks, temperature, selectionRandom(2024, step));
    for (const i of drawn[0]) first[i] += 1 / draws;
    for (const i of drawn.flat()) all[i] += 1 / draws;
  }
  return { first, all };
}

function maxStandardError(observed: Float64Array, expected: Float64Array, draws: number): number {
  let worst = 0;
  for (let i = 0; i < observed.length; i++) {
    worst = Math.max(worst, Math.abs(observed[i] - expected[i]) / Math.sqrt(expected[i] * (1 - expected[i]) / draws));
  }
  return worst;
}

test('jest with zero reference losses samples proportionally to exp(loss / temperature) without replacement', () => {
  const losses = Float64Array.of(0.1, 2.5, 0.4, 1.0, 0.0, 1.7, 0.7, 1.3);
  const draws = 8000;
  for (const temperature of [1, 2]) {
    // keep 4 in 2 chunks: the first chunk is the first 2 sequential draws, the whole batch the first 4.
    const { first, all } = inclusionFrequencies(losses, 4, 2, temperature, draws);
    const scaled = losses.map((l) => l / temperature);
    const exactFirst = sequentialInclusionReference(scaled, 2);
    const exactAll = sequentialInclusionReference(scaled, 4);
    const where = `temperature ${temperature}: high-loss #1 ${first[1].toFixed(3)} (exact ${exactFirst[1].toFixed(3)}), low-loss #4 ${first[4].toFixed(3)} (exact ${exactFirst[4].toFixed(3)})`;
    assert.ok(maxStandardError(first, exactFirst, draws) < 4.5, `first chunk, ${where}`);
    assert.ok(maxStandardError(all, exactAll, draws) < 4.5, `whole batch, ${where}`);
    // The test has the power to tell exp-weighting from its neighbours: weights proportional to the loss (+ 0.1,
    // so that no weight is 0) and the other temperature are both rejected by the same bound (by 29 to 69 sigma).
    const linear = sequentialInclusionReference(losses.map((l) => Math.log(l + 0.1)), 2);
    const otherTemperature = sequentialInclusionReference(losses.map((l) => l / (3 - temperature)), 2);
    assert.ok(maxStandardError(first, linear, draws) > 4.5, 'loss-proportional weights would be told apart');
    assert.ok(maxStandardError(first, otherTemperature, draws) > 4.5, 'the other temperature would be told apart');
  }
});

test('jest pair terms: diversity keeps one of each twin, hard negatives pick a twin of another class', async () => {
  // 8 pairs of twins: identical one-hot features within a pair, orthogonal across pairs, equal losses.
  const twins = 16;
  const host: HostInput = {
    learner: new Float32Array(twins).fill(1), reference: new Float32Array(twins),
    features: Float32Array.from({ length: twins * FEATURES }, (_, e) => (e % FEATURES === Math.floor(Math.floor(e / FEATURES) / 2) ? 1 : 0)),
    labels: Uint32Array.from({ length: twins }, (_, i) => i % 2),
  };
  const pairOf = (i: number) => Math.floor(i / 2);
  let plainOnePerPair = 0;
  for (let step = 0; step < 20; step++) {
    await withInput(host, 8, 1, step, async (input) => {
      // Chunks of one: every pick sees all the previous ones. A weight of 10 makes a twin exp(-20) as likely.
      const diverse = await new JestSelector({ pairwise: 'diversity', pairWeight: 10, chunks: 8 }).select(input);
      assert.is(new Set([...diverse.indices].map(pairOf)).size, 8, `step ${step}: one of each pair`);
      const plain = await new JestSelector({ chunks: 8 }).select(input);
      if (new Set([...plain.indices].map(pairOf)).size === 8) plainOnePerPair++;
    });
    await withInput(host, 2, 1, step, async (input) => {
      const hard = await new JestSelector({ pairwise: 'hard-negatives', pairWeight: 10, chunks: 2 }).select(input);
      assert.is(pairOf(hard.indices[0]), pairOf(hard.indices[1]), `step ${step}: the second pick is the first's twin`);
    });
  }
  // Without the pair term one-of-each-pair has probability 2^8 / C(16, 8) = 2%.
  assert.ok(plainOnePerPair <= 3, `plain jest kept one of each pair ${plainOnePerPair} times out of 20`);
});

test('selector names, options and inputs are checked with one-line errors', async () => {
  assert.equal([...SELECTOR_NAMES], ['none', 'random', 'loss', 'rho', 'jest', 'saln']);
  throwsOneLine(() => createSelector('topk'), /unknown selector 'topk'; choose one of none, random, loss, rho, jest, saln/);
  throwsOneLine(() => createSelector('loss', { keep: 3 }), /loss selector: unknown option 'keep'; it takes no options/);
  throwsOneLine(() => createSelector('jest', { temprature: 1 }), /jest selector: unknown option 'temprature'; it accepts chunks, temperature/);
  throwsOneLine(() => createSelector('jest', { chunks: 0 }), /option chunks must be a positive integer, got 0/);
  throwsOneLine(() => createSelector('jest', { chunks: 2.5 }), /option chunks must be a positive integer, got 2.5/);
  throwsOneLine(() => createSelector('jest', { chunks: '16' }), /option chunks must be a positive integer, got '16' \(a string\)/);
  throwsOneLine(() => createSelector('jest', { temperature: -1 }), /option temperature must be a positive finite number/);
  throwsOneLine(() => createSelector('jest', { temperature: Infinity }), /option temperature must be a positive finite number/);
  throwsOneLine(() => createSelector('jest', { score: 'hardness' }), /option score must be one of learnability, hard-learner, easy-reference, got 'hardness'/);
  throwsOneLine(() => createSelector('jest', { pairwise: 'cosine' }), /option pairwise must be one of none, hard-negatives, diversity/);
  throwsOneLine(() => createSelector('jest', { pairWeight: 2 }), /option pairWeight has no effect without pairwise/);
  throwsOneLine(() => createSelector('jest', { pairwise: 'diversity', pairWeight: -2 }), /option pairWeight must be a non-negative finite number/);
  throwsOneLine(() => createSelector('random', [] as unknown as Record<string, unknown>), /random selector: options must be an object/);

  // What each selector asks the trainer for.
  assert.equal(createSelector('none').needs, {});
  assert.equal(createSelector('random').needs, {});
  assert.equal(createSelector('loss').needs, { learnerLoss: true });
  assert.equal(createSelector('rho').needs, { learnerLoss: true, referenceLoss: true });
  assert.equal(createSelector('jest').needs, { learnerLoss: true, referenceLoss: true });
  assert.equal(createSelector('jest', { score: 'hard-learner', pairwise: 'diversity' }).needs, { learnerLoss: true, features: 'learner' });
  assert.equal(createSelector('jest', { score: 'easy-reference', pairwise: 'hard-negatives', features: 'reference' }).needs, { referenceLoss: true, features: 'reference' });

  const host = hostInput(7, 6);
  await withInput(host, 3, 0, 0, async (input) => {
    const rejects = (selector: Selector, changes: Partial<SelectionInput>, pattern: RegExp) => rejectsOneLine(() => selector.select({ ...input, ...changes }), pattern);
    await rejects(new LossSelector(), { keep: 0 }, /loss selector: keep must be an integer in \[1, 7\] \(the batch size\), got 0/);
    await rejects(new RandomSelector(), { keep: 8 }, /random selector: keep must be an integer in \[1, 7\]/);
    await rejects(new NoneSelector(), { batchSize: 0 }, /none selector: batchSize must be a positive integer/);
    await rejects(new JestSelector(), { step: -1 }, /jest selector: step must be an integer in \[0, 2\^32\)/);
    await rejects(new RandomSelector(), { seed: 1.5 }, /random selector: seed must be a non-negative integer/);
    await rejects(new LossSelector(), { learnerLoss: undefined }, /loss selector needs learnerLoss \(\[7\] f32\) in its input/);
    await rejects(new RhoSelector(), { referenceLoss: undefined }, /rho selector needs referenceLoss/);
    await rejects(new LossSelector(), { batchSize: 6 }, /loss selector: learnerLoss has 7 elements \[7\], expected 6/);
    await rejects(new LossSelector(), { learnerLoss: input.labels }, /loss selector: learnerLoss must be f32, got u32/);
    await rejects(new JestSelector({ pairwise: 'diversity' }), { features: undefined }, /jest selector with pairwise 'diversity' needs features \(\[7, F\] f32\)/);
    await rejects(new JestSelector({ pairwise: 'diversity' }), { features: input.learnerLoss }, /jest selector: features must be \[7, F\] with F >= 1, got \[7\]/);
    const nan = Tensor.upload(rt, Float32Array.of(1, 2, NaN, 0, 0, 0, 0));
    try {
      await rejects(new LossSelector(), { learnerLoss: nan }, /loss selector: learnerLoss\[2\] is NaN; losses must be finite/);
    } finally {
      nan.dispose();
    }
  });
});

test.run();
