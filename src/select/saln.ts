// SALN (Sharifi 2024, arXiv 2412.17069): spectral selection within a super-batch. Features [B, F] -> cosine
// similarity graph -> Laplacian -> its Fiedler vector v2 (the eigenvector of the second-smallest eigenvalue, by
// GPU Lanczos with the null vector deflated) -> the keep samples a rule on v2 prefers.
//
// The choices the paper leaves open are options: the affinity keeping negative similarities
// out of the weights ('clip' max(S, 0), 'shift' (S + 1) / 2, 'exp' exp(-(1 - S) / t)), the Laplacian
// ('unnormalized' D - W as the paper states, or 'normalized' I - D^-1/2 W D^-1/2), and the rule:
//   'high'     |v2| high first (the samples the split is most sure of),
//   'low'      |v2| low first (samples near the cut),
//   'balanced' alternately from the two sides of the sign split, each side by |v2| high first, starting with the
//              side holding the highest |v2|; samples with v2 = 0 come last.
//   'proportional' from each side in proportion to its size, each side by |v2| high first: v2 is orthogonal to
//              the constant vector, so its entries are larger on the smaller side, and 'high' over-keeps that side
//              (a class-skewed batch); this keeps the split's proportions.
// Every rule reads v2 only through |v2| and the partition into sides, so flipping the sign of v2 (which is
// arbitrary) changes nothing; ties go to the lower index.
//
// Every ranking by |v2| keeps a class-skewed half (issue 12: v2 varies smoothly with class, so a magnitude
// ranking keeps whole classes and drops others). The rules below fix instead how many samples each part of the
// spectral structure keeps, and rank only inside a part (src/select/spectral-rules.ts):
//   'stratified' each side of the Fiedler sign split keeps a quota in proportion to its size (largest remainder,
//              exactly keep in all), or, with clusters=K > 2, each spectral cluster does (as 'clusters');
//              inside a part the order `within`;
//   'clusters'   the K lowest eigenvectors (the known null vector and K - 1 from Lanczos), rows scaled to unit
//              length, seeded k-means++ in float64 (src/select/spectral-clusters.ts) -> per-cluster quotas in
//              proportion to cluster size -> `within` inside each cluster;
//   'joint'      JEST's chunked sampling (src/select/jest.ts): each chunk drawn with probability proportional to
//              exp(unary + pairwise), unary = learnability (stale learner loss - reference loss; the stale loss
//              alone when no reference loss is given) standardised over the batch, pairwise = -diversity x the
//              excess of the candidate's spectral cluster over its fair share of the samples chosen so far;
//   'degree'     an ablation, not a proposal: drop the highest- and lowest-degree samples (ceil(trim B) from each
//              end), then a uniform random subset of the rest; it says whether v2 adds anything beyond degree.
// Options of these (defaults in brackets):
//   graph        'dense' | 'knn' ['dense']: every pair weighted, or each sample's K largest weights kept,
//              symmetrised by max(W, W^T) (shaders/graph.wgsl knn_mask); both Laplacians work on either;
//   neighbours   K of the knn graph [10]; only with graph=knn;
//   within       'learnability' | 'loss' | 'typicality' | 'random' ['learnability'] (stratified, clusters):
//              learnability = stale learner loss - reference loss, high first (needs both); loss = stale learner
//              loss, high first; typicality = low |v2| first on the sign split, nearest its centroid in the
//              embedding on clusters; random = one permutation seeded by (seed, step);
//   clusters     K >= 2 (stratified, clusters, joint) [stratified: 2, the sign split; clusters and joint:
//              min(8, max(2, floor(B / 4)))], at most B;
//   chunks       of joint [16];  diversity  weight of joint's pairwise term, >= 0 [1];
//   trim         fraction dropped from each end by degree, in [0, 0.5) [0.1].
// The stale loss is the learner's per-sample loss from each sample's last forward (NaN, never forwarded, reads
// as the batch mean). Every rule gives exactly keep distinct ascending indices, reads eigenvectors only through
// sign-free quantities, and is deterministic for the same (seed, step).
// Details of every step: ipr (of v2), clusterSizes and clusterKept (stratified,
// clusters, joint), timing { graph, lanczos, rule } in milliseconds (the trainer adds gather).
import type { Tensor } from '../tensor.ts';
import { buildGraph, AFFINITIES, GRAPH_KINDS, LAPLACIANS, type Affinity, type GraphKind, type GraphOptions, type LaplacianKind } from '../ops/graph.ts';
import { lanczos, LANCZOS_DEFAULTS } from '../linalg/lanczos.ts';
import { ascending, checkSelectionInput, checkTensor, readLossVector, selectionRandom } from './common.ts';
import { checkOptionKeys, nonNegativeNumber, oneOf, positiveInteger, positiveNumber } from './options.ts';
import type { SelectionInput, SelectionResult, Selector, SelectorNeeds } from './types.ts';
import { spectralStep, type SpectralStep } from './spectral.ts';
import { spectralClusters } from './spectral-clusters.ts';
import {
  WITHIN_ORDERS, canonicalGroups, fiedlerSides, fillNeverForwarded, groupSizes, pickByDegree, pickByQuotas, pickJoint,
  standardise, withinPriority, type Groups, type WithinOrder,
} from './spectral-rules.ts';
import { inverseParticipationRatio } from './saln-diagnostics.ts';

export const FIEDLER_RULES = ['high', 'low', 'balanced', 'proportional'] as const;
export type FiedlerRule = typeof FIEDLER_RULES[number];
/** The rules on v2 and the rules with quotas, joint sampling, and the degree ablation. */
export const SALN_RULES = [...FIEDLER_RULES, 'stratified', 'clusters', 'joint', 'degree'] as const;
export type SalnRule = typeof SALN_RULES[number];

export interface SalnOptions {
  /** Default 'clip'. */
  affinity?: Affinity;
  /** t of the exp affinity; default 0.5. */
  temperature?: number;
  /** Default 'unnormalized' (the paper's D - S). */
  laplacian?: LaplacianKind;
  /** Default 'clusters' (see SALN_DEFAULTS). */
  rule?: SalnRule;
  /** Lanczos steps at most; default 100. */
  lanczosSteps?: number;
  /** Residual stop |L v - lambda v| <= tolerance * |L|; default 1e-5. */
  tolerance?: number;
  /** Whose features the selector asks for; default 'reference'. */
  featureSource?: 'learner' | 'reference';
  /** Default 'dense'. */
  graph?: GraphKind;
  /** K of graph=knn; default 10. */
  neighbours?: number;
  /** Order inside a side or cluster (stratified, clusters); default 'learnability'. */
  within?: WithinOrder;
  /** Spectral clusters (stratified, clusters, joint); default: 2 for stratified, min(8, max(2, floor(B / 4))) otherwise. */
  clusters?: number;
  /** Chunks of joint; default 16. */
  chunks?: number;
  /** Weight of joint's pairwise term; default 1. */
  diversity?: number;
  /** Fraction of the batch dropped from each end by degree; default 0.1. */
  trim?: number;
}

// The defaults are the variant the screening study found strongest (README, "The selection study"): a frozen
// reference's features, spectral clusters with per-cluster quotas, learnability inside each cluster. It beat a
// random half by 4.1 points [1.9, 6.4] under 30% label noise and tied with it on clean, duplicated and
// corrupted data; the default before ('proportional' on the learner's own features) stayed 4 to 8 points under
// random in all four and lost to standard training in three. It needs a reference model: `--reference DIR`, or
// compare and study train one.
export const SALN_DEFAULTS = {
  affinity: 'clip', temperature: 0.5, laplacian: 'unnormalized', rule: 'clusters',
  lanczosSteps: LANCZOS_DEFAULTS.maxSteps, tolerance: LANCZOS_DEFAULTS.tolerance, featureSource: 'reference',
  graph: 'dense', neighbours: 10, within: 'learnability', chunks: 16, diversity: 1, trim: 0.1,
} as const;

const OPTION_KEYS = ['affinity', 'temperature', 'laplacian', 'rule', 'lanczosSteps', 'tolerance', 'featureSource',
  'graph', 'neighbours', 'within', 'clusters', 'chunks', 'diversity', 'trim'];

/** The rules each rule-specific option acts on: giving it with another rule is a mistake, not a no-op. */
const OPTION_RULES: Record<string, readonly SalnRule[]> = {
  within: ['stratified', 'clusters'], clusters: ['stratified', 'clusters', 'joint'], chunks: ['joint'], diversity: ['joint'], trim: ['degree'],
};

/** The selector's options after defaults; `clusters` stays absent when it follows the batch size. */
export interface ResolvedSalnOptions extends SpectralOptions {
  rule: SalnRule;
  graph: GraphKind;
  neighbours: number;
  within: WithinOrder;
  clusters?: number;
  chunks: number;
  diversity: number;
  trim: number;
}

/** What `details` of a SALN selection holds. */
export interface SalnDetails {
  /** The unit Fiedler vector [B], its sign fixed so that its largest-magnitude entry (lowest index) is positive. */
  fiedler: Float32Array;
  /**
   * The lowest Ritz values of L on the complement of its null vector, ascending (up to 5): the first is the Fiedler
   * value lambda_2 (converged to the tolerance), the others upper bounds of lambda_3, ... from the same Krylov space.
   */
  eigenvalues: number[];
  /** Lanczos steps. */
  iterations: number;
  /** |L v2 - lambda_2 v2| (f32, on the GPU). */
  residual: number;
  /** The residual stop was met (false: the step limit came first; v2 is then the best approximation found). */
  converged: boolean;
  /** Set when the choice did not come from the Fiedler vector: 'batch < 3' or 'non-finite Fiedler vector'. */
  fallback?: string;
  /** The rule that chose. (rule=degree computes no eigenvectors: fiedler, eigenvalues, ... are absent.) */
  rule: SalnRule;
  /** Inverse participation ratio of v2, sum v^4 / (sum v^2)^2: 1/B spread out, 1 on a single sample. */
  ipr?: number;
  /** Sizes of the sides or spectral clusters and how many each kept (stratified, clusters, joint). */
  clusterSizes?: number[];
  clusterKept?: number[];
  /** [B] the spectral cluster (or side) of each sample. */
  clusterOf?: Uint32Array;
  /** Degrees of the graph and the samples dropped for their degree (rule=degree). */
  degrees?: Float32Array;
  dropped?: number[];
  /** The chunks joint drew, in order. */
  chunks?: number[][];
  /** Milliseconds of this selection: the graph, the eigen-solve, the rule (loss reads, clustering, picking). */
  timing: { graph: number; lanczos: number; rule: number };
}

export interface FiedlerResult {
  fiedler: Float32Array;
  eigenvalues: number[];
  iterations: number;
  residual: number;
  converged: boolean;
}

export interface SpectralOptions extends GraphOptions {
  lanczosSteps: number;
  tolerance: number;
}

/**
 * The Fiedler vector of the batch's similarity graph, features [B, F] with B >= 3; the Lanczos start vector is
 * `start` (length B).
 */
export async function fiedlerVector(features: Tensor, options: SpectralOptions, start: ArrayLike<number>): Promise<FiedlerResult> {
  const rt = features.rt;
  const graph = buildGraph(features, options);
  try {
    const result = await lanczos(rt, graph.laplacian, {
      count: 1, maxSteps: options.lanczosSteps, tolerance: options.tolerance, deflate: graph.nullVector, start,
    });
    const fiedler = await result.vectors.download() as Float32Array;
    result.vectors.dispose();
    return {
      fiedler: orientSign(fiedler), eigenvalues: result.ritzValues.slice(0, 5), iterations: result.iterations,
      residual: result.residuals[0], converged: result.converged,
    };
  } finally {
    graph.dispose();
  }
}

/** v or -v, whichever has its largest-magnitude entry (the first, among equal magnitudes) positive. */
export function orientSign(v: Float32Array): Float32Array {
  let at = 0;
  for (let i = 1; i < v.length; i++) if (Math.abs(v[i]) > Math.abs(v[at])) at = i;
  if (v[at] < 0) for (let i = 0; i < v.length; i++) v[i] = -v[i];
  return v;
}

/**
 * The `keep` candidates `rule` prefers by the Fiedler vector, ascending, and the scores they were ranked by
 * (higher is preferred within a side: |v2| for 'high' and 'balanced', max|v2| - |v2| for 'low').
 */
export function pickByRule(fiedler: ArrayLike<number>, keep: number, rule: FiedlerRule): { indices: Uint32Array; scores: Float32Array } {
  const n = fiedler.length;
  if (!Number.isInteger(keep) || keep < 0 || keep > n) throw new Error(`pickByRule: keep must be an integer in [0, ${n}], got ${keep}`);
  const magnitude = Float64Array.from(fiedler as ArrayLike<number>, Math.abs);
  const highFirst = (a: number, b: number) => magnitude[b] - magnitude[a] || a - b;
  const all = Array.from({ length: n }, (_, i) => i);
  if (rule === 'high') return { indices: ascending(all.sort(highFirst).slice(0, keep)), scores: Float32Array.from(magnitude) };
  if (rule === 'low') {
    const largest = magnitude.reduce((m, x) => Math.max(m, x), 0);
    const lowFirst = (a: number, b: number) => magnitude[a] - magnitude[b] || a - b;
    return { indices: ascending(all.sort(lowFirst).slice(0, keep)), scores: Float32Array.from(magnitude, (x) => largest - x) };
  }
  if (rule !== 'balanced' && rule !== 'proportional') throw new Error(`unknown Fiedler rule '${rule}'; one of ${FIEDLER_RULES.join(', ')}`);
  const positive = all.filter((i) => fiedler[i] > 0).sort(highFirst);
  const negative = all.filter((i) => fiedler[i] < 0).sort(highFirst);
  const zero = all.filter((i) => fiedler[i] === 0);
  if (rule === 'proportional') {
    // The larger side's share rounds; zeros fill what the sides leave. Equal sides are told apart by their
    // contents (the side holding the highest |v2| counts as larger), never by their sign.
    const positiveLarger = positive.length !== negative.length ? positive.length > negative.length
      : negative.length === 0 || highFirst(positive[0], negative[0]) < 0;
    const [large, small] = positiveLarger ? [positive, negative] : [negative, positive];
    const fromLarge = Math.min(large.length, Math.round(keep * large.length / n));
    const fromSmall = Math.min(small.length, keep - fromLarge);
    const picked = [...large.slice(0, fromLarge), ...small.slice(0, fromSmall)];
    const rest = [...zero, ...large.slice(fromLarge), ...small.slice(fromSmall)].slice(0, keep - picked.length);
    return { indices: ascending([...picked, ...rest]), scores: Float32Array.from(magnitude) };
  }
  // Which side opens is decided by the sides' contents, never by their sign.
  const [first, second] = negative.length > 0 && (positive.length === 0 || highFirst(negative[0], positive[0]) < 0) ? [negative, positive] : [positive, negative];
  // Once the shorter side is spent, the longer one continues alone; zeros (on neither side) come last.
  const picked = interleave(first, second).concat(zero).slice(0, keep);
  return { indices: ascending(picked), scores: Float32Array.from(magnitude) };
}

function interleave(first: number[], second: number[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < Math.max(first.length, second.length); i++) {
    if (i < first.length) out.push(first[i]);
    if (i < second.length) out.push(second[i]);
  }
  return out;
}

export class SalnSelector implements Selector {
  readonly name = 'saln';
  readonly needs: SelectorNeeds;
  readonly options: ResolvedSalnOptions;

  constructor(options: SalnOptions = {}) {
    checkOptionKeys(this.name, options, OPTION_KEYS);
    const rule = oneOf(this.name, 'rule', options.rule, SALN_RULES, SALN_DEFAULTS.rule);
    const bag = options as Record<string, unknown>;
    for (const [key, rules] of Object.entries(OPTION_RULES)) {
      if (bag[key] !== undefined && !rules.includes(rule)) {
        throw new Error(`${this.name} selector: option ${key} has no effect with rule=${rule}; it applies to rule=${rules.join(' | ')}`);
      }
    }
    const graph = oneOf(this.name, 'graph', options.graph, GRAPH_KINDS, SALN_DEFAULTS.graph);
    if (options.neighbours !== undefined && graph !== 'knn') throw new Error(`${this.name} selector: option neighbours has no effect without graph=knn`);
    const clusters = options.clusters === undefined ? undefined : positiveInteger(this.name, 'clusters', options.clusters, 2);
    if (clusters === 1) throw new Error(`${this.name} selector: option clusters must be an integer >= 2, got 1`);
    const trim = nonNegativeNumber(this.name, 'trim', options.trim, SALN_DEFAULTS.trim);
    if (trim >= 0.5) throw new Error(`${this.name} selector: option trim must be in [0, 0.5), got ${trim}`);
    this.options = {
      affinity: oneOf(this.name, 'affinity', options.affinity, AFFINITIES, SALN_DEFAULTS.affinity),
      temperature: positiveNumber(this.name, 'temperature', options.temperature, SALN_DEFAULTS.temperature),
      laplacian: oneOf(this.name, 'laplacian', options.laplacian, LAPLACIANS, SALN_DEFAULTS.laplacian),
      rule,
      lanczosSteps: positiveInteger(this.name, 'lanczosSteps', options.lanczosSteps, SALN_DEFAULTS.lanczosSteps),
      tolerance: positiveNumber(this.name, 'tolerance', options.tolerance, SALN_DEFAULTS.tolerance),
      graph,
      neighbours: positiveInteger(this.name, 'neighbours', options.neighbours, SALN_DEFAULTS.neighbours),
      within: oneOf(this.name, 'within', options.within, WITHIN_ORDERS, SALN_DEFAULTS.within),
      ...(clusters !== undefined ? { clusters } : {}),
      chunks: positiveInteger(this.name, 'chunks', options.chunks, SALN_DEFAULTS.chunks),
      diversity: nonNegativeNumber(this.name, 'diversity', options.diversity, SALN_DEFAULTS.diversity),
      trim,
    };
    const features = oneOf(this.name, 'featureSource', options.featureSource, ['learner', 'reference'] as const, SALN_DEFAULTS.featureSource);
    const usesWithin = rule === 'stratified' || rule === 'clusters';
    const learnability = rule === 'joint' || (usesWithin && this.options.within === 'learnability');
    const staleOnly = usesWithin && this.options.within === 'loss';
    this.needs = {
      features,
      ...(learnability || staleOnly ? { staleLoss: true } : {}),
      ...(learnability ? { referenceLoss: true } : {}),
    };
  }

  /** Spectral clusters for `batchSize` candidates: the option, or the rule's default; never more than the batch. */
  clusterCount(batchSize: number): number {
    const { rule, clusters } = this.options;
    const fallback = rule === 'stratified' ? 2 : Math.min(8, Math.max(2, Math.floor(batchSize / 4)));
    return Math.min(clusters ?? fallback, batchSize);
  }

  async select(input: SelectionInput): Promise<SelectionResult> {
    checkSelectionInput(this.name, input);
    const { batchSize, keep, features } = input;
    if (!features) throw new Error(`${this.name} selector needs features ([${batchSize}, F] f32) in its input`);
    if (features.shape.length !== 2 || features.shape[0] !== batchSize) {
      throw new Error(`${this.name} selector: features must be [${batchSize}, F], got [${features.shape.join(', ')}]`);
    }
    checkTensor(this.name, 'features', features, features.size, 'f32');
    const rule = this.options.rule;
    const random = selectionRandom(input.seed, input.step);
    // Class coverage of the kept set is counted by the trainer, from host labels, for every selector alike: no
    // readback of the labels here.
    if (batchSize < 3 && isFiedlerRule(rule)) {
      // One sample or two: the Fiedler vector is trivial (for two, +-1/sqrt 2), so every choice ties.
      const picked = pickByRule(new Float32Array(batchSize), keep, rule);
      return this.result(picked, {
        fiedler: new Float32Array(batchSize), eigenvalues: [], iterations: 0, residual: 0, converged: true, fallback: 'batch < 3',
        rule, timing: { graph: 0, lanczos: 0, rule: 0 },
      });
    }
    const start = Float32Array.from({ length: batchSize }, () => 2 * random.next() - 1);
    const clusters = this.clusterCount(batchSize);
    const signSplit = rule === 'stratified' && clusters === 2;
    const count = rule === 'degree' ? 0 : isFiedlerRule(rule) || signSplit ? 1 : clusters - 1;
    const spectral = batchSize >= 3 ? await spectralStep(features, this.options, count, start) : null;
    const ruleStart = performance.now();
    const timing = (s: SpectralStep | null) => ({ graph: s?.timing.graph ?? 0, lanczos: s?.timing.lanczos ?? 0, rule: performance.now() - ruleStart });
    const spectralDetails = spectral && count > 0 ? {
      fiedler: spectral.vectors[0], eigenvalues: spectral.eigenvalues, iterations: spectral.iterations,
      residual: spectral.residuals[0], converged: spectral.converged, ipr: inverseParticipationRatio(spectral.vectors[0]),
    } : {};
    const finite = spectral !== null && spectral.vectors.every((v) => v.every(Number.isFinite));
    if (isFiedlerRule(rule)) {
      if (!finite) {
        // Only non-finite features get here (the degenerate graphs all have finite spectra).
        const picked = pickByRule(new Float32Array(batchSize), keep, rule);
        return this.result(picked, { ...spectralDetails, fallback: 'non-finite Fiedler vector', rule, timing: timing(spectral) } as SalnDetails);
      }
      const picked = pickByRule(spectral!.vectors[0], keep, rule);
      return this.result(picked, { ...spectralDetails, rule, timing: timing(spectral) } as SalnDetails);
    }
    const losses = await this.losses(input);
    if (rule === 'degree') {
      const degrees = spectral?.degrees ?? new Float32Array(batchSize);
      const picked = pickByDegree(degrees, keep, this.options.trim, random);
      return this.result({ indices: picked.indices, scores: Float32Array.from(degrees) },
        { degrees, dropped: picked.dropped, rule, timing: timing(spectral) } as unknown as SalnDetails);
    }
    // One group when there is no usable spectrum (B < 3, or non-finite features): quotas then change nothing.
    const fallback = !spectral ? 'batch < 3' : !finite ? 'non-finite eigenvectors' : undefined;
    let groups: Groups;
    let atypicality: ArrayLike<number>;
    if (fallback) {
      groups = canonicalGroups(new Uint32Array(batchSize));
      atypicality = new Float64Array(batchSize);
    } else if (signSplit) {
      groups = fiedlerSides(spectral!.vectors[0]);
      atypicality = Float64Array.from(spectral!.vectors[0], Math.abs);
    } else {
      const flat = new Float32Array(spectral!.vectors.length * batchSize);
      spectral!.vectors.forEach((v, k) => flat.set(v, k * batchSize));
      const found = spectralClusters(flat, spectral!.nullVector, batchSize, clusters, random);
      groups = found;
      atypicality = found.distance;
    }
    let indices: Uint32Array, scores: Float64Array, chunks: number[][] | undefined;
    if (rule === 'joint') {
      const { stale, reference } = losses;
      scores = standardise(Float64Array.from(stale!, (x, i) => x - (reference ? reference[i] : 0)));
      ({ indices, chunks } = pickJoint(scores, groups, keep, this.options.chunks, this.options.diversity, random));
    } else {
      scores = withinPriority(this.options.within, { staleLoss: losses.stale, referenceLoss: losses.reference, atypicality, random, batchSize });
      ({ indices } = pickByQuotas(groups, keep, scores));
    }
    const kept = new Array<number>(groups.count).fill(0);
    for (const i of indices) kept[groups.groupOf[i]]++;
    return this.result({ indices, scores: Float32Array.from(scores) }, {
      ...spectralDetails, ...(fallback ? { fallback } : {}), rule,
      clusterSizes: groupSizes(groups), clusterKept: kept, clusterOf: groups.groupOf, ...(chunks ? { chunks } : {}), timing: timing(spectral),
    } as SalnDetails);
  }

  /**
   * The losses the rule reads: the stale learner loss (NaN as the batch mean) and the reference loss, each when
   * the rule needs it; a missing one is a one-line error naming the option that needs it.
   */
  private async losses(input: SelectionInput): Promise<{ stale?: Float64Array; reference?: Float32Array }> {
    const { rule, within } = this.options;
    const why = rule === 'joint' ? 'rule=joint' : `within=${within}`;
    let stale: Float64Array | undefined;
    if (this.needs.staleLoss) {
      const given = input.staleLoss;
      if (!given || given.length !== input.batchSize) {
        throw new Error(`${this.name} selector: ${why} needs staleLoss ([${input.batchSize}], the learner's loss from each sample's last forward) in its input${given ? `, got ${given.length} values` : ''}`);
      }
      const infinite = given.findIndex((x) => x === Infinity || x === -Infinity);
      if (infinite >= 0) throw new Error(`${this.name} selector: staleLoss[${infinite}] is ${given[infinite]}; losses must be finite (NaN marks never forwarded)`);
      stale = fillNeverForwarded(given);
    }
    let reference: Float32Array | undefined;
    if (rule === 'joint' ? input.referenceLoss !== undefined : this.needs.referenceLoss) {
      if (!input.referenceLoss) {
        throw new Error(`${this.name} selector: ${why} needs referenceLoss ([${input.batchSize}] f32, a reference model's per-sample loss) in its input; without a reference model use within=loss or within=typicality`);
      }
      reference = await readLossVector(this.name, input, 'referenceLoss');
    }
    return { stale, reference };
  }

  private result(picked: { indices: Uint32Array; scores: Float32Array }, details: SalnDetails): SelectionResult {
    return { indices: picked.indices, scores: picked.scores, details: details as unknown as Record<string, unknown> };
  }
}

function isFiedlerRule(rule: SalnRule): rule is FiedlerRule {
  return (FIEDLER_RULES as readonly string[]).includes(rule);
}
