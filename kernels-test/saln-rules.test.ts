// SALN's quota, cluster, joint and degree rules through the selector on the GPU, on planted structure: five
// clusters of sizes 30, 20, 8, 4, 2 (unit-norm centroid directions plus noise) and 3 outliers, shuffled through
// the batch. Asserts exact counts, coverage of every cluster of size >= 1 / keep-ratio in proportion (within one
// sample), outliers not kept beyond their share, both graphs and both Laplacians, determinism, the degree
// ablation dropping the extreme-degree samples, the needs and one-line errors, and the diagnostics in details.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { getRuntime } from '../src/gpu/runtime.ts';
import { Tensor } from '../src/tensor.ts';
import { CpuRandom, normalArray } from '../src/rng.ts';
import { SalnSelector, type SalnDetails, type SalnOptions } from '../src/select/saln.ts';
import { largestRemainderQuotas, canonicalGroups } from '../src/select/spectral-rules.ts';
import { affinityReference, gramReference, normalizeRowsReference } from '../src/reference/saln.ts';
import { rejectsOneLine, throwsOneLine } from '../test/assertions.ts';

const rt = await getRuntime();

// ---- the planted batch ---------------------------------------------------------------------------------------

const SIZES = [30, 20, 8, 4, 2];
const OUTLIERS = 3;
const F = 32;
const B = SIZES.reduce((a, b) => a + b, 0) + OUTLIERS;   // 67
const KEEP = 34;                                           // ratio 34/67: clusters of size >= 67/34 ~ 1.97, all five

function unit(v: ArrayLike<number>): Float64Array {
  const norm = Math.hypot(...Array.from(v));
  return Float64Array.from(v, (x) => x / norm);
}

/** Features [B, F], the planted cluster of each sample (outliers: 5, 6, 7), samples shuffled through the batch. */
function plantedBatch(seed: number): { features: Float32Array; cluster: number[] } {
  const groups = SIZES.length + OUTLIERS;
  const centroids = Array.from({ length: groups }, (_, g) => unit(normalArray(F, seed, 10 + g)));
  const ordered = [...SIZES.flatMap((size, c) => new Array<number>(size).fill(c)), ...Array.from({ length: OUTLIERS }, (_, o) => SIZES.length + o)];
  const cluster = Array.from(new CpuRandom(seed, 2).permutation(B), (i) => ordered[i]);
  const noise = normalArray(B * F, seed, 3, 0, 0.05);
  const features = Float32Array.from({ length: B * F }, (_, index) => centroids[cluster[Math.floor(index / F)]][index % F] + noise[index]);
  return { features, cluster };
}

const PLANTED = plantedBatch(1);

interface Losses { stale?: Float32Array; reference?: Float32Array }

async function select(options: SalnOptions, features: Float32Array, labels: number[], keep: number, losses: Losses = {}, seed = 1, step = 0) {
  const n = labels.length;
  const t = Tensor.upload(rt, features, [n, features.length / n]);
  const l = Tensor.upload(rt, Uint32Array.from(labels), [n], 'u32');
  const reference = losses.reference ? Tensor.upload(rt, losses.reference) : undefined;
  const before = rt.pool.report().liveBytes;
  try {
    // Written when the order inside a part defaulted to random; the learnability default has its own cases here.
    const within = (options.rule === 'stratified' || options.rule === 'clusters') && options.within === undefined ? { within: 'random' as const } : {};
    const result = await new SalnSelector({ featureSource: 'learner', ...within, ...options }).select({
      rt, batchSize: n, keep, labels: l, features: t, seed, step, staleLoss: losses.stale, referenceLoss: reference,
    });
    assert.is(rt.pool.report().liveBytes, before, 'the selector leaves nothing allocated');
    return { ...result, details: result.details as unknown as SalnDetails };
  } finally {
    t.dispose(); l.dispose(); reference?.dispose();
  }
}

function assertValidChoice(indices: Uint32Array, keep: number, n: number, what: string): void {
  assert.is(indices.length, keep, `${what}: exactly ${keep}`);
  for (let i = 0; i < indices.length; i++) {
    assert.ok(indices[i] < n, `${what}: in range`);
    if (i > 0) assert.ok(indices[i] > indices[i - 1], `${what}: ascending and distinct`);
  }
}

/**
 * Every planted cluster of size >= B / keep keeps its proportional share within one sample; the outliers together
 * keep at most their share rounded up.
 */
function assertCoverage(indices: Uint32Array, cluster: number[], keep: number, what: string, checkOutliers = true): void {
  const kept = new Array<number>(SIZES.length + OUTLIERS).fill(0);
  for (const i of indices) kept[cluster[i]]++;
  SIZES.forEach((size, c) => {
    if (size < cluster.length / keep) return;
    const share = (keep * size) / cluster.length;
    assert.ok(kept[c] >= Math.floor(share) - 1 && kept[c] <= Math.ceil(share) + 1, `${what}: cluster of ${size} kept ${kept[c]}, share ${share.toFixed(2)} (kept per cluster ${kept})`);
  });
  const outliers = kept.slice(SIZES.length).reduce((a, b) => a + b, 0);
  const outlierShare = (keep * OUTLIERS) / cluster.length;
  if (checkOutliers) assert.ok(outliers <= Math.ceil(outlierShare), `${what}: ${outliers} outliers kept, share ${outlierShare.toFixed(2)}`);
}

const GRAPHS: SalnOptions[] = [
  { graph: 'dense', laplacian: 'unnormalized' }, { graph: 'dense', laplacian: 'normalized' },
  { graph: 'knn', neighbours: 6, laplacian: 'unnormalized' }, { graph: 'knn', neighbours: 6, laplacian: 'normalized' },
];

// ---- coverage on planted structure ---------------------------------------------------------------------------

test('clusters and stratified (clusters=8): every planted cluster kept in proportion, outliers within their share, exact counts, for both graphs and both Laplacians', async () => {
  for (const seed of [1, 2, 3]) {
    const { features, cluster } = plantedBatch(seed);
    for (const graph of GRAPHS) {
      // The paper's dense graph with the unnormalised Laplacian is the exception: its lowest modes isolate the
      // smallest clusters and the outliers, so 8 clusters can leave the two largest planted ones merged (seeds 3
      // and 6 of 1..10 here); the quotas still hold for the clusters it finds, which is what it is held to.
      const recovers = !(graph.graph === 'dense' && graph.laplacian === 'unnormalized');
      for (const rule of ['clusters', 'stratified'] as const) {
        for (const within of ['random', 'typicality'] as const) {
          const options: SalnOptions = { ...graph, rule, within, ...(rule === 'stratified' ? { clusters: 8 } : {}) };
          const what = `seed ${seed} ${JSON.stringify(options)}`;
          const { indices, details } = await select(options, features, cluster, KEEP);
          assertValidChoice(indices, KEEP, B, what);
          if (recovers) assertCoverage(indices, cluster, KEEP, what);
          // The found clusters keep exactly their largest-remainder quotas.
          assert.equal(details.clusterKept, largestRemainderQuotas(canonicalGroups(details.clusterOf!), KEEP), `${what}: quotas`);
          assert.is(details.clusterSizes!.reduce((a, b) => a + b, 0), B);
        }
      }
    }
  }
});

test('learnability inside clusters: each cluster keeps its most learnable samples', async () => {
  const { features, cluster } = PLANTED;
  const stale = Float32Array.from(normalArray(B, 9, 1, 2, 0.5));
  const reference = Float32Array.from(normalArray(B, 9, 2, 1, 0.5));
  const { indices, details } = await select({ rule: 'clusters', within: 'learnability', graph: 'knn', neighbours: 6, laplacian: 'normalized' }, features, cluster, KEEP, { stale, reference });
  assertCoverage(indices, cluster, KEEP, 'learnability');
  const kept = new Set(indices);
  for (let i = 0; i < B; i++) {
    for (let j = 0; j < B; j++) {
      if (details.clusterOf![i] !== details.clusterOf![j] || !kept.has(i) || kept.has(j)) continue;
      assert.ok(stale[i] - reference[i] >= stale[j] - reference[j], `kept ${i} is at least as learnable as dropped ${j} of its cluster`);
    }
  }
  // A sample never forwarded (NaN) reads as the batch mean, and the choice stays valid.
  const withNaN = stale.slice();
  withNaN[indices[0]] = NaN;
  assertValidChoice((await select({ rule: 'clusters', within: 'loss' }, features, cluster, KEEP, { stale: withNaN })).indices, KEEP, B, 'NaN stale loss');
});

test('stratified on the sign split: each side keeps its largest-remainder quota; the same choice for negated features', async () => {
  const { features, cluster } = PLANTED;
  for (const graph of GRAPHS) {
    const options: SalnOptions = { ...graph, rule: 'stratified', within: 'typicality' };
    const what = JSON.stringify(options);
    const { indices, details } = await select(options, features, cluster, KEEP);
    assertValidChoice(indices, KEEP, B, what);
    const sides = canonicalGroups(Array.from(details.fiedler, Math.sign));
    assert.equal(Array.from(details.clusterOf!), Array.from(sides.groupOf), `${what}: the parts are the sides of v2`);
    assert.equal(details.clusterKept, largestRemainderQuotas(sides, KEEP), `${what}: quotas`);
    // -features give the same graph exactly (see saln.test.ts), hence the same choice.
    const negated = await select(options, features.map((x) => -x), cluster, KEEP);
    assert.equal(Array.from(negated.indices), Array.from(indices), `${what}: negated features`);
  }
});

test('joint: exact counts, planted clusters kept near their share, outliers within their share on average, deterministic per (seed, step)', async () => {
  const { features, cluster } = PLANTED;
  const stale = Float32Array.from(normalArray(B, 4, 1, 2, 0.5));
  const reference = Float32Array.from(normalArray(B, 4, 2, 1, 0.5));
  for (const graph of [GRAPHS[1], GRAPHS[3]]) {
    const options: SalnOptions = { ...graph, rule: 'joint', diversity: 5 };
    const what = JSON.stringify(options);
    // Joint sampling is random: per step the planted clusters stay within one of their share, and the outliers,
    // which a deficit term pulls up once their fractional share has accrued, stay within their share rounded up
    // in the mean over steps (a simulation of this batch's structure gives 1.67 kept against a share of 1.52).
    let outliers = 0;
    const steps = 12;
    for (let step = 0; step < steps; step++) {
      const { indices } = await select(options, features, cluster, KEEP, { stale, reference }, 3, step);
      assertValidChoice(indices, KEEP, B, `${what} step ${step}`);
      assertCoverage(indices, cluster, KEEP, `${what} step ${step}`, false);
      outliers += Array.from(indices).filter((i) => cluster[i] >= SIZES.length).length;
    }
    assert.ok(outliers / steps <= Math.ceil((KEEP * OUTLIERS) / B), `${what}: ${outliers / steps} outliers kept on average`);
    const first = await select(options, features, cluster, KEEP, { stale, reference }, 3, 7);
    const again = await select(options, features, cluster, KEEP, { stale, reference }, 3, 7);
    assert.equal(Array.from(again.indices), Array.from(first.indices), `${what}: deterministic`);
    assert.is(first.details.chunks!.length, 16);
  }
  // Without a reference loss the unary term is the stale loss alone.
  const staleOnly = await select({ rule: 'joint' }, features, cluster, KEEP, { stale });
  assertValidChoice(staleOnly.indices, KEEP, B, 'joint, stale loss only');
});

test('every rule: the same (seed, step) gives the same choice; details carry ipr and the time split', async () => {
  const { features, cluster } = PLANTED;
  const stale = Float32Array.from(normalArray(B, 5, 1, 2, 0.5));
  for (const options of [{ rule: 'stratified' }, { rule: 'clusters', within: 'random' }, { rule: 'joint' }, { rule: 'degree' }, { rule: 'proportional', graph: 'knn' }] as SalnOptions[]) {
    const what = JSON.stringify(options);
    const first = await select(options, features, cluster, KEEP, { stale }, 2, 5);
    const again = await select(options, features, cluster, KEEP, { stale }, 2, 5);
    assert.equal(Array.from(again.indices), Array.from(first.indices), `${what}: deterministic`);
    const d = first.details;
    assert.is(d.rule, options.rule);
    for (const part of ['graph', 'lanczos', 'rule'] as const) assert.ok(d.timing[part] >= 0 && Number.isFinite(d.timing[part]), `${what}: timing.${part}`);
    if (options.rule === 'degree') {
      assert.is(d.fiedler, undefined, 'degree computes no eigenvector');
      assert.is(d.timing.lanczos, 0);
    } else {
      assert.ok(d.ipr! >= 1 / B - 1e-9 && d.ipr! <= 1, `${what}: ipr ${d.ipr}`);
    }
  }
  // The planted clusters are all covered, so the kept set holds every planted class (outliers aside).
  const { indices } = await select({ rule: 'clusters' }, features, cluster, KEEP);
  const classesKept = new Set(Array.from(indices, (i) => cluster[i])).size;
  assert.ok(classesKept >= SIZES.length, `classes kept ${classesKept}`);
});

// ---- the degree ablation -----------------------------------------------------------------------------------

test('degree: the samples dropped are those of the highest and lowest degree (the top ones from the largest cluster), the rest random', async () => {
  const { features, cluster } = PLANTED;
  const { indices, details } = await select({ rule: 'degree', trim: 0.1 }, features, cluster, KEEP);
  assertValidChoice(indices, KEEP, B, 'degree');
  const each = Math.min(Math.ceil(0.1 * B), Math.floor((B - KEEP) / 2));
  assert.is(details.dropped!.length, 2 * each);
  // Against float64 degrees of the same graph: the dropped top (bottom) samples hold the highest (lowest) degrees,
  // up to the f32 rounding of a degree (|err| <= 1e-4 here, far below the gaps that matter).
  const unitRows = normalizeRowsReference(features, B, F);
  const { degrees } = affinityReference(gramReference(unitRows, B, F), B, 'clip');
  for (let i = 0; i < B; i++) assert.ok(Math.abs(details.degrees![i] - degrees[i]) <= 1e-4, `degree ${i}`);
  const sorted = Array.from(degrees).sort((a, b) => a - b);
  const top = details.dropped!.slice(0, each), bottom = details.dropped!.slice(each);
  for (const i of top) assert.ok(degrees[i] >= sorted[B - each] - 1e-4, `dropped ${i} is among the ${each} highest`);
  for (const i of bottom) assert.ok(degrees[i] <= sorted[each - 1] + 1e-4, `dropped ${i} is among the ${each} lowest`);
  for (const i of top) assert.is(cluster[i], 0, `dropped ${i} for its high degree is in the largest cluster`);
  for (const i of details.dropped!) assert.not.ok(Array.from(indices).includes(i));
});

// ---- needs and errors --------------------------------------------------------------------------------------

test('needs follow the rule and within; bad options and missing losses are one-line errors naming the option', async () => {
  assert.equal(new SalnSelector({ rule: 'stratified' }).needs, { features: 'reference', staleLoss: true, referenceLoss: true });
  assert.equal(new SalnSelector({ rule: 'stratified', within: 'random', featureSource: 'learner' }).needs, { features: 'learner' });
  assert.equal(new SalnSelector({ rule: 'clusters', within: 'loss' }).needs, { features: 'reference', staleLoss: true });
  assert.equal(new SalnSelector({ rule: 'clusters', within: 'learnability', featureSource: 'reference' }).needs, { features: 'reference', staleLoss: true, referenceLoss: true });
  assert.equal(new SalnSelector({ rule: 'joint', featureSource: 'learner' }).needs, { features: 'learner', staleLoss: true, referenceLoss: true });
  assert.equal(new SalnSelector({ rule: 'degree' }).needs, { features: 'reference' });
  throwsOneLine(() => new SalnSelector({ rule: 'high', within: 'loss' }), /option within has no effect with rule=high; it applies to rule=stratified \| clusters/);
  throwsOneLine(() => new SalnSelector({ rule: 'clusters', trim: 0.2 }), /option trim has no effect with rule=clusters/);
  throwsOneLine(() => new SalnSelector({ rule: 'stratified', chunks: 4 }), /option chunks has no effect with rule=stratified; it applies to rule=joint/);
  throwsOneLine(() => new SalnSelector({ neighbours: 5 }), /option neighbours has no effect without graph=knn/);
  throwsOneLine(() => new SalnSelector({ rule: 'clusters', clusters: 1 }), /option clusters must be an integer >= 2, got 1/);
  throwsOneLine(() => new SalnSelector({ rule: 'degree', trim: 0.5 }), /option trim must be in \[0, 0.5\)/);
  throwsOneLine(() => new SalnSelector({ graph: 'sparse' as 'knn' }), /option graph must be one of dense, knn/);
  throwsOneLine(() => new SalnSelector({ rule: 'spectral' as 'high' }), /option rule must be one of high, low, balanced, proportional, stratified, clusters, joint, degree/);
  const { features, cluster } = PLANTED;
  const stale = new Float32Array(B).fill(1);
  await rejectsOneLine(() => select({ rule: 'clusters', within: 'learnability' }, features, cluster, KEEP, { stale }), /within=learnability needs referenceLoss/);
  await rejectsOneLine(() => select({ rule: 'stratified', within: 'loss' }, features, cluster, KEEP), /within=loss needs staleLoss \(\[67\]/);
  await rejectsOneLine(() => select({ rule: 'joint' }, features, cluster, KEEP), /rule=joint needs staleLoss/);
  await rejectsOneLine(() => select({ rule: 'clusters', within: 'loss' }, features, cluster, KEEP, { stale: Float32Array.from(stale, (x, i) => (i === 3 ? Infinity : x)) }), /staleLoss\[3\] is Infinity/);
});

test('tiny batches: B < 3 and clusters above B give valid choices without eigenvectors to spare', async () => {
  for (const options of [{ rule: 'stratified' }, { rule: 'clusters', clusters: 8 }, { rule: 'joint' }, { rule: 'degree' }] as SalnOptions[]) {
    for (const n of [1, 2, 3, 5]) {
      for (let keep = 1; keep <= n; keep++) {
        const features = Float32Array.from(normalArray(n * 4, n, 1));
        const { indices } = await select(options, features, new Array<number>(n).fill(0), keep, { stale: new Float32Array(n).fill(1) });
        assertValidChoice(indices, keep, n, `${JSON.stringify(options)} n=${n} keep=${keep}`);
      }
    }
  }
});

test.run();
