// k-means on the CPU in float64 for the spectral clusters of a super-batch (B <= 512 points in a handful of
// dimensions: microseconds, no GPU round trip worth making). Seeded greedy k-means++ (Arthur and Vassilvitskii 2007) then
// Lloyd's iterations, several restarts, the lowest inertia kept. Deterministic given the random stream: every
// tie (nearest centre, best restart) goes to the lower index, and the clusters are numbered by their lowest
// member, so the numbering does not depend on which seeds were drawn.
import type { CpuRandom } from '../rng.ts';

export interface KmeansResult {
  /** [n]: the cluster of each point, numbered 0.. in the order of each cluster's lowest member. */
  assignment: Uint32Array;
  /** Clusters found: k, or fewer when the points have fewer than k distinct positions. */
  count: number;
  /** [n]: the squared distance of each point to its cluster's centroid. */
  distance: Float64Array;
  /** Sum of `distance`. */
  inertia: number;
}

export const KMEANS_RESTARTS = 4;
export const KMEANS_MAX_ITERATIONS = 100;

/** points [n, dims] row-major; k >= 1. */
export function kmeans(points: ArrayLike<number>, n: number, dims: number, k: number, random: CpuRandom, restarts = KMEANS_RESTARTS): KmeansResult {
  if (!(Number.isInteger(k) && k >= 1)) throw new Error(`kmeans: k must be a positive integer, got ${k}`);
  if (points.length !== n * dims) throw new Error(`kmeans: ${points.length} values are not ${n} points of ${dims} dimensions`);
  if (n === 0) return { assignment: new Uint32Array(0), count: 0, distance: new Float64Array(0), inertia: 0 };
  let best: KmeansResult | null = null;
  for (let r = 0; r < restarts; r++) {
    const result = lloyd(points, n, dims, seedCentres(points, n, dims, k, random));
    if (!best || result.inertia < best.inertia) best = result;
  }
  return best!;
}

function squaredDistance(points: ArrayLike<number>, i: number, centres: Float64Array, c: number, dims: number): number {
  let s = 0;
  for (let d = 0; d < dims; d++) s += (points[i * dims + d] - centres[c * dims + d]) ** 2;
  return s;
}

/**
 * Greedy k-means++ (as scikit-learn seeds): the first centre uniform; each next one the best, by the potential
 * sum_i D(x_i)^2 it leaves, of 2 + floor(ln k) candidates drawn with probability proportional to D(x)^2. Plain
 * k-means++ often puts two seeds in a big cluster and none in a small one; the greedy choice rarely does.
 */
function seedCentres(points: ArrayLike<number>, n: number, dims: number, k: number, random: CpuRandom): Float64Array {
  const distanceTo = (i: number, p: number) => {
    let s = 0;
    for (let d = 0; d < dims; d++) s += (points[i * dims + d] - points[p * dims + d]) ** 2;
    return s;
  };
  const chosen = [Math.min(n - 1, Math.floor(random.next() * n))];
  let nearest = Float64Array.from({ length: n }, (_, i) => distanceTo(i, chosen[0]));
  const trials = 2 + Math.floor(Math.log(k));
  while (chosen.length < k) {
    const total = nearest.reduce((a, b) => a + b, 0);
    // Every point sits on a centre already: fewer distinct positions than k, so fewer clusters.
    if (!(total > 0)) break;
    let best = -1, bestPotential = Infinity, bestNearest = nearest;
    for (let t = 0; t < trials; t++) {
      let target = random.next() * total;
      let candidate = -1;
      for (let i = 0; i < n; i++) {
        if (nearest[i] <= 0) continue;
        candidate = i;
        target -= nearest[i];
        if (target < 0) break;
      }
      const updated = Float64Array.from(nearest, (x, i) => Math.min(x, distanceTo(i, candidate)));
      const potential = updated.reduce((a, b) => a + b, 0);
      if (potential < bestPotential) { best = candidate; bestPotential = potential; bestNearest = updated; }
    }
    chosen.push(best);
    nearest = bestNearest;
  }
  const centres = new Float64Array(chosen.length * dims);
  chosen.forEach((p, c) => { for (let d = 0; d < dims; d++) centres[c * dims + d] = points[p * dims + d]; });
  return centres;
}

function lloyd(points: ArrayLike<number>, n: number, dims: number, centres: Float64Array): KmeansResult {
  const k = centres.length / dims;
  const assignment = new Uint32Array(n);
  const distance = new Float64Array(n);
  for (let iteration = 0; iteration < KMEANS_MAX_ITERATIONS; iteration++) {
    let changed = iteration === 0;
    for (let i = 0; i < n; i++) {
      let at = 0, closest = Infinity;
      for (let c = 0; c < k; c++) {
        const s = squaredDistance(points, i, centres, c, dims);
        if (s < closest) { closest = s; at = c; }
      }
      if (assignment[i] !== at) changed = true;
      assignment[i] = at;
      distance[i] = closest;
    }
    if (!changed) break;
    const sums = new Float64Array(k * dims);
    const sizes = new Float64Array(k);
    for (let i = 0; i < n; i++) {
      sizes[assignment[i]]++;
      for (let d = 0; d < dims; d++) sums[assignment[i] * dims + d] += points[i * dims + d];
    }
    // A centre that lost every point stays where it was (it may win points back; if not, it simply stays empty).
    for (let c = 0; c < k; c++) if (sizes[c] > 0) for (let d = 0; d < dims; d++) centres[c * dims + d] = sums[c * dims + d] / sizes[c];
  }
  return canonical(assignment, distance);
}

/** Clusters renumbered by their lowest member, empty ones dropped. */
function canonical(assignment: Uint32Array, distance: Float64Array): KmeansResult {
  const renumber = new Map<number, number>();
  const out = new Uint32Array(assignment.length);
  let inertia = 0;
  for (let i = 0; i < assignment.length; i++) {
    if (!renumber.has(assignment[i])) renumber.set(assignment[i], renumber.size);
    out[i] = renumber.get(assignment[i])!;
    inertia += distance[i];
  }
  return { assignment: out, count: renumber.size, distance, inertia };
}
