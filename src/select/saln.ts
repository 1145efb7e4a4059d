// SALN (Sharifi 2024, arXiv 2412.17069): spectral selection within a super-batch. Features [B, F] -> cosine
// similarity graph -> Laplacian -> its Fiedler vector v2 (the eigenvector of the second-smallest eigenvalue, by
// GPU Lanczos with the null vector deflated) -> the keep samples a rule on v2 prefers.
//
// The paper's open choices are options (see /work/shared/PAPER.md): the affinity keeping negative similarities
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
import type { Tensor } from '../tensor.ts';
import { buildGraph, AFFINITIES, LAPLACIANS, type Affinity, type GraphOptions, type LaplacianKind } from './graph.ts';
import { lanczos, LANCZOS_DEFAULTS } from './lanczos.ts';
import { ascending, checkSelectionInput, checkTensor, selectionRandom } from './common.ts';
import { checkOptionKeys, oneOf, positiveInteger, positiveNumber } from './options.ts';
import type { SelectionInput, SelectionResult, Selector, SelectorNeeds } from './types.ts';

export const FIEDLER_RULES = ['high', 'low', 'balanced', 'proportional'] as const;
export type FiedlerRule = typeof FIEDLER_RULES[number];

export interface SalnOptions {
  /** Default 'clip'. */
  affinity?: Affinity;
  /** t of the exp affinity; default 0.5. */
  temperature?: number;
  /** Default 'unnormalized' (the paper's D - S). */
  laplacian?: LaplacianKind;
  /** Default 'proportional'. */
  rule?: FiedlerRule;
  /** Lanczos steps at most; default 100. */
  lanczosSteps?: number;
  /** Residual stop |L v - lambda v| <= tolerance * |L|; default 1e-5. */
  tolerance?: number;
  /** Whose features the selector asks for; default 'learner'. */
  featureSource?: 'learner' | 'reference';
}

export const SALN_DEFAULTS = {
  affinity: 'clip', temperature: 0.5, laplacian: 'unnormalized', rule: 'proportional',
  lanczosSteps: LANCZOS_DEFAULTS.maxSteps, tolerance: LANCZOS_DEFAULTS.tolerance, featureSource: 'learner',
} as const;

const OPTION_KEYS = ['affinity', 'temperature', 'laplacian', 'rule', 'lanczosSteps', 'tolerance', 'featureSource'];

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
  readonly options: Required<Omit<SalnOptions, 'featureSource'>>;

  constructor(options: SalnOptions = {}) {
    checkOptionKeys(this.name, options, OPTION_KEYS);
    this.options = {
      affinity: oneOf(this.name, 'affinity', options.affinity, AFFINITIES, SALN_DEFAULTS.affinity),
      temperature: positiveNumber(this.name, 'temperature', options.temperature, SALN_DEFAULTS.temperature),
      laplacian: oneOf(this.name, 'laplacian', options.laplacian, LAPLACIANS, SALN_DEFAULTS.laplacian),
      rule: oneOf(this.name, 'rule', options.rule, FIEDLER_RULES, SALN_DEFAULTS.rule),
      lanczosSteps: positiveInteger(this.name, 'lanczosSteps', options.lanczosSteps, SALN_DEFAULTS.lanczosSteps),
      tolerance: positiveNumber(this.name, 'tolerance', options.tolerance, SALN_DEFAULTS.tolerance),
    };
    this.needs = { features: oneOf(this.name, 'featureSource', options.featureSource, ['learner', 'reference'] as const, SALN_DEFAULTS.featureSource) };
  }

  async select(input: SelectionInput): Promise<SelectionResult> {
    checkSelectionInput(this.name, input);
    const { batchSize, keep, features } = input;
    if (!features) throw new Error(`${this.name} selector needs features ([${batchSize}, F] f32) in its input`);
    if (features.shape.length !== 2 || features.shape[0] !== batchSize) {
      throw new Error(`${this.name} selector: features must be [${batchSize}, F], got [${features.shape.join(', ')}]`);
    }
    checkTensor(this.name, 'features', features, features.size, 'f32');
    if (batchSize < 3) {
      // One sample or two: the Fiedler vector is trivial (for two, +-1/sqrt 2), so every choice ties.
      return this.result(pickByRule(new Float32Array(batchSize), keep, this.options.rule), {
        fiedler: new Float32Array(batchSize), eigenvalues: [], iterations: 0, residual: 0, converged: true, fallback: 'batch < 3',
      });
    }
    const random = selectionRandom(input.seed, input.step);
    const start = Float32Array.from({ length: batchSize }, () => 2 * random.next() - 1);
    const spectral = await fiedlerVector(features, this.options, start);
    if (!spectral.fiedler.every(Number.isFinite)) {
      // Only non-finite features get here (the degenerate graphs all have finite spectra).
      return this.result(pickByRule(new Float32Array(batchSize), keep, this.options.rule), { ...spectral, fallback: 'non-finite Fiedler vector' });
    }
    return this.result(pickByRule(spectral.fiedler, keep, this.options.rule), spectral);
  }

  private result(picked: { indices: Uint32Array; scores: Float32Array }, details: SalnDetails): SelectionResult {
    return { indices: picked.indices, scores: picked.scores, details: details as unknown as Record<string, unknown> };
  }
}
