// SALN's quota, cluster, joint and degree rules on CPU vectors (src/select/spectral-rules.ts, kmeans.ts,
// spectral-clusters.ts): exact quotas by largest remainder, exact counts of distinct ascending indices, the same
// choice when eigenvectors change sign, determinism for one random stream, k-means recovering planted blobs, joint
// sampling reducing to JEST's without the diversity term and tracking cluster shares with it, and the degree
// ablation dropping exactly the extreme-degree samples.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CpuRandom, normalArray, uniformArray } from '../src/rng.ts';
import { kmeans } from '../src/select/kmeans.ts';
import { spectralClusters } from '../src/select/spectral-clusters.ts';
import { jestSample } from '../src/select/jest.ts';
import {
  canonicalGroups, fiedlerSides, fillNeverForwarded, groupSizes, largestRemainderQuotas, pickByDegree, pickByQuotas,
  pickJoint, standardise, withinPriority, type Groups,
} from '../src/select/spectral-rules.ts';

function assertValidChoice(indices: Uint32Array, keep: number, n: number, what: string): void {
  assert.is(indices.length, keep, `${what}: exactly ${keep}`);
  for (let i = 0; i < indices.length; i++) {
    assert.ok(indices[i] < n, `${what}: in range`);
    if (i > 0) assert.ok(indices[i] > indices[i - 1], `${what}: ascending and distinct`);
  }
}

/** Groups of the given sizes, members interleaved through the batch (sample i of group g at a scattered place). */
function scatteredGroups(sizes: number[], seed: number): Groups {
  const labels = sizes.flatMap((size, g) => new Array<number>(size).fill(g));
  const order = new CpuRandom(seed, 1).permutation(labels.length);
  return canonicalGroups(Array.from(order, (i) => labels[i]));
}

const keptPerGroup = (groups: Groups, indices: ArrayLike<number>) => {
  const kept = new Array<number>(groups.count).fill(0);
  for (let k = 0; k < indices.length; k++) kept[groups.groupOf[indices[k]]]++;
  return kept;
};

// ---- quotas ------------------------------------------------------------------------------------------------

test('largest-remainder quotas: by hand, exact total, within one of the exact share, ties to the larger then earlier group', () => {
  // Sizes 30, 20, 8, 4, 2, 1, 1, 1 (B = 67), keep 33: floors 14, 9, 3, 1, 0, 0, 0, 0 (27); remainders of 33 size
  // mod 67: 52, 57, 63, 65, 66, 33, 33, 33; the 6 seats left go to the five largest, then the first singleton.
  const groups = canonicalGroups([30, 20, 8, 4, 2, 1, 1, 1].flatMap((size, g) => new Array<number>(size).fill(g)));
  assert.equal(largestRemainderQuotas(groups, 33), [15, 10, 4, 2, 1, 1, 0, 0]);
  assert.equal(largestRemainderQuotas(groups, 0), [0, 0, 0, 0, 0, 0, 0, 0]);
  assert.equal(largestRemainderQuotas(groups, 67), [30, 20, 8, 4, 2, 1, 1, 1]);
  // Equal remainders: the larger group first (sizes 1 and 3, keep 2 of 4: shares 0.5 and 1.5, floors 0 and 1, one
  // seat left, remainders 2 and 2 of 4: the group of 3 takes it).
  assert.equal(largestRemainderQuotas(canonicalGroups([1, 0, 0, 0]), 2), [0, 2]);
  assert.equal(largestRemainderQuotas(canonicalGroups([0, 1, 1, 1]), 2), [0, 2]);
  // Equal sizes and remainders: the group with the lower first member.
  assert.equal(largestRemainderQuotas(canonicalGroups([5, 5, 9, 9]), 1), [1, 0]);
  for (let trial = 0; trial < 200; trial++) {
    const random = new CpuRandom(3, trial);
    const sizes = Array.from({ length: 1 + Math.floor(random.next() * 9) }, () => 1 + Math.floor(random.next() * 40));
    const g = scatteredGroups(sizes, trial);
    const n = g.groupOf.length;
    const keep = Math.floor(random.next() * (n + 1));
    const quotas = largestRemainderQuotas(g, keep);
    assert.is(quotas.reduce((a, b) => a + b, 0), keep, 'exact total');
    groupSizes(g).forEach((size, k) => {
      const share = (keep * size) / n;
      assert.ok(quotas[k] >= Math.floor(share) && quotas[k] <= Math.ceil(share) && quotas[k] <= size, `quota ${quotas[k]} for share ${share}`);
    });
  }
  assert.throws(() => largestRemainderQuotas(groups, 68), /keep must be an integer in \[0, 67\]/);
});

test('pickByQuotas: each group its quota, its highest priorities, ties to the lower index', () => {
  const groups = canonicalGroups([0, 1, 0, 1, 0, 1, 1, 0, 0, 0]);
  const priority = [5, 1, 9, 7, 9, 2, 2, 0, 3, 4];
  // Group 0 (6 samples) and group 1 (4): keep 5 -> 3 and 2. Group 0 by priority: 2 (9), 4 (9), 0 (5); group 1:
  // 3 (7), then 5 and 6 tie at 2: 5.
  const { indices, quotas } = pickByQuotas(groups, 5, priority);
  assert.equal(quotas, [3, 2]);
  assert.equal(Array.from(indices), [0, 2, 3, 4, 5]);
});

test('the sign split: flipping v2 gives the same sides, quotas and choice; zeros form their own part', () => {
  for (const n of [1, 2, 5, 17, 64]) {
    const v = Array.from(uniformArray(n, 9, n, -1, 1), (x) => Math.round(x * 5) / 5);
    const flipped = v.map((x) => -x);
    const sides = fiedlerSides(v), flippedSides = fiedlerSides(flipped);
    assert.equal(Array.from(flippedSides.groupOf), Array.from(sides.groupOf), `n=${n}: same sides`);
    assert.is(sides.count, new Set(v.map(Math.sign)).size);
    for (let keep = 0; keep <= n; keep++) {
      const typicality = withinPriority('typicality', { atypicality: v.map(Math.abs), batchSize: n });
      const picked = pickByQuotas(sides, keep, typicality);
      assertValidChoice(picked.indices, keep, n, `n=${n} keep=${keep}`);
      const again = pickByQuotas(flippedSides, keep, withinPriority('typicality', { atypicality: flipped.map(Math.abs), batchSize: n }));
      assert.equal(Array.from(again.indices), Array.from(picked.indices), `n=${n} keep=${keep}: flipped`);
      assert.equal(keptPerGroup(sides, picked.indices), picked.quotas);
    }
  }
});

// ---- orders inside a part ------------------------------------------------------------------------------------

test('within orders: learnability, loss, typicality (low first), random (one seeded permutation); never-forwarded losses read as the mean', () => {
  const stale = fillNeverForwarded(Float32Array.from([2, NaN, 4, 0]));
  assert.equal(Array.from(stale), [2, 2, 4, 0]);
  assert.equal(Array.from(fillNeverForwarded(Float32Array.from([NaN, NaN]))), [0, 0]);
  const reference = [1, 0, 4, 0];
  assert.equal(Array.from(withinPriority('learnability', { staleLoss: stale, referenceLoss: reference, batchSize: 4 })), [1, 2, 0, 0]);
  assert.equal(Array.from(withinPriority('loss', { staleLoss: stale, batchSize: 4 })), [2, 2, 4, 0]);
  assert.equal(Array.from(withinPriority('typicality', { atypicality: [0.5, 0.1, 0.3, 0], batchSize: 4 })), [-0.5, -0.1, -0.3, -0]);
  const random = withinPriority('random', { random: new CpuRandom(4, 2), batchSize: 6 });
  assert.equal(Array.from(random), Array.from(withinPriority('random', { random: new CpuRandom(4, 2), batchSize: 6 })), 'seeded');
  assert.equal(Array.from(random).sort(), [1, 2, 3, 4, 5, 6], 'a permutation');
  assert.throws(() => withinPriority('learnability', { staleLoss: stale, batchSize: 4 }), /within=learnability needs the reference loss/);
  const z = standardise([1, 2, 3, 4]);
  assert.ok(Math.abs(z.reduce((a, b) => a + b, 0)) < 1e-15 && Math.abs(z.reduce((a, b) => a + b * b, 0) - 4) < 1e-12, 'mean 0, variance 1');
  assert.equal(Array.from(standardise([3, 3, 3])), [0, 0, 0]);
});

// ---- k-means and the spectral embedding ------------------------------------------------------------------------

/** Blobs of the given sizes around well-separated centres in 3-D (spread 0.05, centres at distance >= 1). */
function blobs(sizes: number[], seed: number): { points: Float64Array; blob: number[] } {
  const blob = sizes.flatMap((size, b) => new Array<number>(size).fill(b));
  const noise = normalArray(blob.length * 3, seed, 1, 0, 0.05);
  const points = Float64Array.from({ length: blob.length * 3 }, (_, index) => {
    const i = Math.floor(index / 3), d = index % 3;
    return (d === blob[i] % 3 ? 1 + Math.floor(blob[i] / 3) : 0) + noise[index];
  });
  return { points, blob };
}

test('k-means recovers planted blobs of very different sizes, deterministically, numbered by lowest member', () => {
  const { points, blob } = blobs([40, 12, 5, 2, 1], 3);
  const n = blob.length;
  const result = kmeans(points, n, 3, 5, new CpuRandom(7, 0));
  assert.is(result.count, 5);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
    assert.is(result.assignment[i] === result.assignment[j], blob[i] === blob[j], `points ${i}, ${j}`);
  }
  assert.is(result.assignment[0], 0, 'numbered by lowest member');
  const again = kmeans(points, n, 3, 5, new CpuRandom(7, 0));
  assert.equal(Array.from(again.assignment), Array.from(result.assignment));
  assert.equal(Array.from(again.distance), Array.from(result.distance));
  // Fewer distinct positions than k: fewer clusters, no empty ones.
  const two = Float64Array.from([0, 0, 0, 0, 1, 1, 1, 1]);
  const few = kmeans(two, 4, 2, 3, new CpuRandom(1, 0));
  assert.is(few.count, 2);
  assert.equal(Array.from(few.assignment), [0, 0, 1, 1]);
});

test('spectral clusters: negating any eigenvector changes neither the clusters nor the distances', () => {
  const n = 40, m = 3;
  const vectors = Float32Array.from(normalArray(n * m, 5, 1));
  const nullVector = new Float32Array(n).fill(1 / Math.sqrt(n));
  const base = spectralClusters(vectors, nullVector, n, 4, new CpuRandom(2, 0));
  for (const flips of [[-1, 1, 1], [1, -1, -1], [-1, -1, -1]]) {
    const flipped = vectors.map((x, index) => x * flips[Math.floor(index / n)]);
    const other = spectralClusters(flipped, nullVector, n, 4, new CpuRandom(2, 0));
    assert.equal(Array.from(other.groupOf), Array.from(base.groupOf), `flips ${flips}`);
    assert.equal(Array.from(other.distance), Array.from(base.distance), `flips ${flips}: distances`);
  }
});

// ---- joint sampling ------------------------------------------------------------------------------------------

test('joint: exactly keep distinct indices; without diversity it is JEST\'s sampling draw for draw; with a strong diversity term each cluster keeps its share within one', () => {
  const groups = scatteredGroups([30, 20, 8, 4, 2, 1, 1, 1], 11);
  const n = groups.groupOf.length;
  const unary = standardise(uniformArray(n, 4, 1, 0, 3));
  for (const [keep, chunks] of [[1, 16], [33, 16], [34, 34], [67, 4]]) {
    const joint = pickJoint(unary, groups, keep, chunks, 1, new CpuRandom(6, keep));
    assertValidChoice(joint.indices, keep, n, `keep ${keep} chunks ${chunks}`);
    assert.equal(Array.from(pickJoint(unary, groups, keep, chunks, 1, new CpuRandom(6, keep)).indices), Array.from(joint.indices), 'deterministic');
    const plain = jestSample(unary, keep, chunks, 1, new CpuRandom(6, keep)).flat().sort((a, b) => a - b);
    assert.equal(Array.from(pickJoint(unary, groups, keep, chunks, 0, new CpuRandom(6, keep)).indices), plain, 'diversity 0 is JEST');
  }
  // One sample per chunk and a diversity weight far above the unary spread: every draw goes to a cluster with the
  // least excess over its share, so no cluster drifts more than one sample from keep * size / B.
  for (let step = 0; step < 20; step++) {
    const joint = pickJoint(unary, groups, 34, 34, 50, new CpuRandom(8, step));
    keptPerGroup(groups, joint.indices).forEach((kept, g) => {
      const share = (34 * groupSizes(groups)[g]) / n;
      assert.ok(Math.abs(kept - share) <= 1, `step ${step} cluster ${g}: kept ${kept}, share ${share}`);
    });
  }
});

// ---- the degree ablation -------------------------------------------------------------------------------------

test('degree: drops ceil(trim B) of the highest and of the lowest degrees (fewer when keep needs them), random among the rest', () => {
  const n = 20;
  // Degrees 0..19 scattered; ties at the top (two 19s).
  const order = new CpuRandom(1, 3).permutation(n);
  const degrees = Float32Array.from(order, (d) => Math.min(d, 18) + (d === 19 ? 1 : 0));
  degrees[order.indexOf(18)] = 19;
  for (const [keep, trim, each] of [[10, 0.1, 2], [10, 0.25, 5], [17, 0.25, 1], [20, 0.1, 0], [4, 0, 0]]) {
    const { indices, dropped } = pickByDegree(degrees, keep, trim, new CpuRandom(2, keep));
    assertValidChoice(indices, keep, n, `keep ${keep} trim ${trim}`);
    assert.is(dropped.length, 2 * each);
    const droppedDegrees = dropped.map((i) => degrees[i]).sort((a, b) => a - b);
    const expected = Array.from(degrees).sort((a, b) => a - b);
    assert.equal(droppedDegrees, [...expected.slice(0, each), ...expected.slice(n - each)], `keep ${keep} trim ${trim}: the extremes`);
    for (const i of dropped) assert.not.ok(Array.from(indices).includes(i), 'a dropped sample is never kept');
    assert.equal(Array.from(pickByDegree(degrees, keep, trim, new CpuRandom(2, keep)).indices), Array.from(indices), 'deterministic');
  }
});

test.run();
