// SALN's rules that cannot collapse onto a few classes (issue 12): a ranking by |v2| keeps whole classes because v2
// varies smoothly with class, so these rules fix how many samples each part of the spectral structure keeps
// (quotas in proportion to its size) and rank only inside a part; plus JEST-style joint sampling with a
// diversity term over spectral clusters, and the degree ablation. Pure CPU functions of [B] vectors: each is
// tested directly, and each reads eigenvectors only through sign-free quantities (which side, which cluster,
// |v2|, distances in the embedding), so flipping an eigenvector's sign changes nothing.
import type { CpuRandom } from '../rng.ts';
import { ascending, rankTopK } from './common.ts';
import { jestSample } from './jest.ts';

/** How samples are ordered inside a side or cluster. */
export const WITHIN_ORDERS = ['learnability', 'loss', 'typicality', 'random'] as const;
export type WithinOrder = typeof WITHIN_ORDERS[number];

/** Samples split into groups (sides of the Fiedler split, or spectral clusters). */
export interface Groups {
  /** [B]: the group of each sample, numbered 0.. by each group's lowest member. */
  groupOf: Uint32Array;
  count: number;
}

/**
 * Seats per group in proportion to its size, exactly `keep` in all (Hamilton's largest-remainder method): each
 * group gets floor(keep * size / B), and the seats left go to the largest remainders; equal remainders go to the
 * larger group, then to the group with the lower first member. Integer arithmetic, so no rounding decides.
 */
export function largestRemainderQuotas(groups: Groups, keep: number): number[] {
  const sizes = groupSizes(groups);
  const total = groups.groupOf.length;
  if (!(Number.isInteger(keep) && keep >= 0 && keep <= total)) throw new Error(`quotas: keep must be an integer in [0, ${total}], got ${keep}`);
  if (total === 0) return sizes;
  const quotas = sizes.map((size) => Math.floor((keep * size) / total));
  const remainders = sizes.map((size) => (keep * size) % total);
  let left = keep - quotas.reduce((a, b) => a + b, 0);
  // Groups are numbered by their lowest member, so the group number is the first-member order.
  const order = sizes.map((_, g) => g).sort((a, b) => remainders[b] - remainders[a] || sizes[b] - sizes[a] || a - b);
  for (const g of order) {
    if (left === 0) break;
    quotas[g]++;
    left--;
  }
  return quotas;
}

export function groupSizes(groups: Groups): number[] {
  const sizes = new Array<number>(groups.count).fill(0);
  for (const g of groups.groupOf) sizes[g]++;
  return sizes;
}

/** Groups numbered by their lowest member, from any labelling (labels compared by value). */
export function canonicalGroups(labels: ArrayLike<number>): Groups {
  const renumber = new Map<number, number>();
  const groupOf = Uint32Array.from(labels as ArrayLike<number>, (label) => {
    if (!renumber.has(label)) renumber.set(label, renumber.size);
    return renumber.get(label)!;
  });
  return { groupOf, count: renumber.size };
}

/** The sides of the Fiedler split: positive, negative, and exact zeros on their own (sign-free numbering). */
export function fiedlerSides(fiedler: ArrayLike<number>): Groups {
  return canonicalGroups(Array.from(fiedler as ArrayLike<number>, Math.sign));
}

/** A group's quota of its members, `priority` high first (ties to the lower index); ascending indices. */
export function pickByQuotas(groups: Groups, keep: number, priority: ArrayLike<number>): { indices: Uint32Array; quotas: number[] } {
  const quotas = largestRemainderQuotas(groups, keep);
  const members: number[][] = Array.from({ length: groups.count }, () => []);
  groups.groupOf.forEach((g, i) => members[g].push(i));
  const picked = members.flatMap((m, g) => rankTopK(priority, quotas[g], m));
  return { indices: ascending(picked), quotas };
}

/** Inputs the `within` orders read; only the ones the chosen order needs must be present. */
export interface WithinInputs {
  /** [B] learner losses (stale), NaN already replaced. */
  staleLoss?: ArrayLike<number>;
  /** [B] reference-model losses. */
  referenceLoss?: ArrayLike<number>;
  /** [B] how atypical each sample is inside its group (lower: more typical), e.g. |v2| or the distance to its centroid. */
  atypicality?: ArrayLike<number>;
  random?: CpuRandom;
  batchSize: number;
}

/** Per-sample priority (higher first) of a `within` order. */
export function withinPriority(order: WithinOrder, inputs: WithinInputs): Float64Array {
  const n = inputs.batchSize;
  const need = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`within=${order} needs ${what}`);
    return value;
  };
  if (order === 'learnability') {
    const learner = need(inputs.staleLoss, 'the stale learner loss'), reference = need(inputs.referenceLoss, 'the reference loss');
    return Float64Array.from({ length: n }, (_, i) => learner[i] - reference[i]);
  }
  if (order === 'loss') return Float64Array.from(need(inputs.staleLoss, 'the stale learner loss'));
  if (order === 'typicality') return Float64Array.from(need(inputs.atypicality, 'an atypicality score'), (x) => -x);
  // One permutation of the whole batch whatever the groups, so the draws do not depend on the structure.
  const permutation = need(inputs.random, 'a random stream').permutation(n);
  const priority = new Float64Array(n);
  permutation.forEach((sample, place) => { priority[sample] = n - place; });
  return priority;
}

/** NaN (never forwarded) replaced by the mean of the others (0 when none was forwarded). */
export function fillNeverForwarded(losses: ArrayLike<number>): Float64Array {
  let sum = 0, count = 0;
  for (let i = 0; i < losses.length; i++) if (!Number.isNaN(losses[i])) { sum += losses[i]; count++; }
  const mean = count > 0 ? sum / count : 0;
  return Float64Array.from(losses as ArrayLike<number>, (x) => (Number.isNaN(x) ? mean : x));
}

/** (x - mean) / std over the batch (population std); all zeros when the batch does not vary. */
export function standardise(values: ArrayLike<number>): Float64Array {
  const n = values.length;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += values[i] / n;
  let variance = 0;
  for (let i = 0; i < n; i++) variance += (values[i] - mean) ** 2 / n;
  const std = Math.sqrt(variance);
  return Float64Array.from(values as ArrayLike<number>, (x) => (std > 0 ? (x - mean) / std : 0));
}

/**
 * JEST's chunked sampling (src/select/jest.ts) with a pairwise term from the spectral clusters: candidate i's
 * conditional logit is unary_i - diversity * (chosen_c - chosen * size_c / B), c its cluster: its cluster's excess
 * over the cluster's fair share of what is chosen so far. That is a sum over chosen j of s_ij = -diversity
 * ([c_i = c_j] - size_c / B), the form of JEST's conditional term. A plain penalty on the chosen share of a
 * cluster would push towards equal counts per cluster, i.e. over-keep small clusters and outliers; the excess
 * pushes towards proportional coverage instead, and learnability decides inside.
 */
export function pickJoint(unary: ArrayLike<number>, groups: Groups, keep: number, chunks: number, diversity: number,
  random: CpuRandom): { indices: Uint32Array; chunks: number[][] } {
  const n = unary.length;
  const share = groupSizes(groups).map((size) => size / n);
  const drawn = jestSample(unary, keep, chunks, 1, random, (chunk, logits) => {
    const inChunk = new Array<number>(groups.count).fill(0);
    for (const j of chunk) inChunk[groups.groupOf[j]]++;
    for (let i = 0; i < n; i++) {
      const c = groups.groupOf[i];
      logits[i] -= diversity * (inChunk[c] - chunk.length * share[c]);
    }
  });
  return { indices: ascending(drawn.flat()), chunks: drawn };
}

/**
 * The degree ablation: rank by degree, drop ceil(trim * B) samples from each end (fewer when that would leave
 * fewer than keep: at most floor((B - keep) / 2) each), then a uniform keep-subset of the rest. Ties in degree go
 * to the lower index (dropped first at the top, last at the bottom); a non-finite degree counts as the lowest.
 */
export function pickByDegree(degrees: ArrayLike<number>, keep: number, trim: number, random: CpuRandom): { indices: Uint32Array; dropped: number[] } {
  const n = degrees.length;
  const key = Float64Array.from(degrees as ArrayLike<number>, (d) => (Number.isFinite(d) ? d : -Infinity));
  const each = Math.min(Math.ceil(trim * n), Math.floor((n - keep) / 2));
  const highFirst = rankTopK(key, n);
  const dropped = [...highFirst.slice(0, each), ...highFirst.slice(n - each).reverse()];
  const droppedSet = new Set(dropped);
  const rest = highFirst.filter((i) => !droppedSet.has(i)).sort((a, b) => a - b);
  // A partial Fisher-Yates over the survivors in index order, as the random selector draws.
  for (let i = 0; i < keep; i++) {
    const j = i + Math.floor(random.next() * (rest.length - i));
    [rest[i], rest[j]] = [rest[j], rest[i]];
  }
  return { indices: ascending(rest.slice(0, keep)), dropped };
}
