// JEST, joint example selection (Evans et al. 2024, arXiv 2406.17711), on per-sample classification losses.
//
// Kept from the paper (its Algorithm 1, `jointly_sample_batch`):
// - the score: learnability = learner loss - reference loss (option `score`; the paper's other two scores,
//   'hard-learner' = learner loss and 'easy-reference' = -reference loss, are there too);
// - the batch is built from the super-batch in chunks (default 16; the paper's filter ratio is 1 - keep / B);
// - the first chunk is drawn without replacement with probability proportional to exp(s_ii), the per-sample
//   scores; each later chunk without replacement proportional to exp(s_ii + sum_{j chosen} (s_ij + s_ji)), the
//   joint learnability conditioned on the chunks already chosen, chosen candidates excluded. Within one chunk the
//   probabilities stay fixed (the paper's np.random.choice(p=softmax(logits), replace=False) per chunk), which is
//   sequential sampling without replacement; we draw it as Gumbel-top-m (keys logit_i + G_i, the m largest),
//   which has exactly that distribution and is deterministic given the seed.
//
// What had to change:
// - The paper's scores are a B x B matrix: s_ij is the learner-minus-reference contrastive loss of image i
//   against text j, so the off-diagonal terms (how hard, and how learnable, the pair's negatives are) couple the
//   choices. A classification loss is per sample: the matrix is diagonal, the conditional term vanishes, and the
//   procedure is exactly sequential sampling of keep candidates proportional to exp(learnability) (the chunks
//   change nothing in distribution). That is the default (`pairwise: 'none'`), the faithful reduction.
// - As an option we put back an off-diagonal term built from what the selector can get, features [B, F] and
//   labels, with s_ij = pairWeight * pair(i, j):
//     'hard-negatives': pair = max(0, cos(f_i, f_j)) if y_i != y_j else 0, the classification analogue of a
//       contrastive hard negative: a different-class sample that the features put close to one already chosen,
//       i.e. a confusable pair, is more informative alongside it;
//     'diversity': pair = -cos(f_i, f_j), a redundancy penalty (close to a chosen sample: less worth adding).
//   The paper's pair term is a learner-minus-reference difference; one feature source is available (learner or
//   reference, option `features`), so these terms are the learner's (or the reference's) view alone.
// - A softmax temperature (default 1, the paper's): probabilities proportional to exp(logit / temperature).
// - keep need not be a multiple of the chunk count: the keep samples are split into min(chunks, keep) chunks
//   whose sizes differ by at most one (larger ones first); the paper uses equal chunks of keep // chunks.
import type { CpuRandom } from '../rng.ts';
import { ascending, checkSelectionInput, checkTensor, rankTopK, readLossVector, selectionRandom } from './common.ts';
import { checkOptionKeys, nonNegativeNumber, oneOf, positiveInteger, positiveNumber } from './options.ts';
import type { SelectionInput, SelectionResult, Selector, SelectorNeeds } from './types.ts';

export const JEST_SCORES = ['learnability', 'hard-learner', 'easy-reference'] as const;
export type JestScore = typeof JEST_SCORES[number];
export const JEST_PAIRWISE = ['none', 'hard-negatives', 'diversity'] as const;
export type JestPairwise = typeof JEST_PAIRWISE[number];

export interface JestOptions {
  /** Chunks the kept batch is built in (default 16, the paper's). */
  chunks?: number;
  /** Softmax temperature of the sampling (default 1). */
  temperature?: number;
  /** Per-sample score (default 'learnability'). */
  score?: JestScore;
  /** Off-diagonal conditional term (default 'none': the paper's procedure on a per-sample loss). */
  pairwise?: JestPairwise;
  /** Weight of the off-diagonal term, s_ij = pairWeight * pair(i, j) (default 1; only with `pairwise`). */
  pairWeight?: number;
  /** Whose features the pair term uses (default 'learner'; only with `pairwise`). */
  features?: 'learner' | 'reference';
}

const OPTION_KEYS = ['chunks', 'temperature', 'score', 'pairwise', 'pairWeight', 'features'];

/** Sizes of the chunks keep is built in: min(chunks, keep) chunks, sizes differing by at most one, larger first. */
export function chunkSizes(keep: number, chunks: number): number[] {
  const count = Math.min(chunks, keep);
  return Array.from({ length: count }, (_, c) => Math.floor(keep / count) + (c < keep % count ? 1 : 0));
}

/** A standard Gumbel draw; u = 0 (probability 2^-53) is moved inside (0, 1) so the key stays finite. */
export function gumbel(random: CpuRandom): number {
  return -Math.log(-Math.log(random.next() || 2 ** -54));
}

/** Adds sum over the chunk just chosen of (s_ij + s_ji) to every candidate's conditional logit. */
export type PairUpdate = (chosen: readonly number[], logits: Float64Array) => void;

/**
 * The sampling core on the CPU: `keep` candidates in `chunks` chunks, each drawn without replacement proportional
 * to exp(conditional logit / temperature). Every chunk draws one Gumbel per candidate in index order (chosen ones
 * included), so the random words a chunk uses do not depend on what was chosen before. Returns the chunks in the
 * order drawn, each in its key order.
 */
export function jestSample(scores: ArrayLike<number>, keep: number, chunks: number, temperature: number,
  random: CpuRandom, pairUpdate?: PairUpdate): number[][] {
  const batchSize = scores.length;
  const logits = Float64Array.from(scores);
  const chosen = new Uint8Array(batchSize);
  const keys = new Float64Array(batchSize);
  const sizes = chunkSizes(keep, chunks);
  const drawn: number[][] = [];
  for (let c = 0; c < sizes.length; c++) {
    const remaining: number[] = [];
    for (let i = 0; i < batchSize; i++) {
      keys[i] = logits[i] / temperature + gumbel(random);
      if (!chosen[i]) remaining.push(i);
    }
    const chunk = rankTopK(keys, sizes[c], remaining);
    for (const j of chunk) chosen[j] = 1;
    if (pairUpdate && c + 1 < sizes.length) pairUpdate(chunk, logits);
    drawn.push(chunk);
  }
  return drawn;
}

/**
 * The pair update for `kind` from features [B, F] (and labels for 'hard-negatives'): s_ij = weight * pair(i, j),
 * symmetric, so each chosen j adds 2 * weight * pair(i, j) to candidate i. Costs B * F per chosen sample on the
 * CPU (about 27 M multiply-adds for B = 512, keep = 102, F = 512).
 */
export function featurePairUpdate(kind: Exclude<JestPairwise, 'none'>, weight: number, features: ArrayLike<number>,
  featureSize: number, labels?: ArrayLike<number>): PairUpdate {
  const batchSize = features.length / featureSize;
  const unit = new Float64Array(features.length);
  for (let i = 0; i < batchSize; i++) {
    let norm = 0;
    for (let f = 0; f < featureSize; f++) norm += features[i * featureSize + f] ** 2;
    // A zero feature vector has no direction: its cosine with everything is taken as 0.
    const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    for (let f = 0; f < featureSize; f++) unit[i * featureSize + f] = features[i * featureSize + f] * scale;
  }
  if (kind === 'hard-negatives' && !labels) throw new Error('jest selector: the hard-negatives pair term needs labels');
  return (chunk, logits) => {
    for (const j of chunk) {
      for (let i = 0; i < batchSize; i++) {
        let cos = 0;
        for (let f = 0; f < featureSize; f++) cos += unit[i * featureSize + f] * unit[j * featureSize + f];
        const pair = kind === 'diversity' ? -cos : labels![i] !== labels![j] ? Math.max(0, cos) : 0;
        logits[i] += 2 * weight * pair;
      }
    }
  };
}

export class JestSelector implements Selector {
  readonly name = 'jest';
  readonly needs: SelectorNeeds;
  readonly chunks: number;
  readonly temperature: number;
  readonly score: JestScore;
  readonly pairwise: JestPairwise;
  readonly pairWeight: number;

  constructor(options: JestOptions = {}) {
    checkOptionKeys(this.name, options, OPTION_KEYS);
    const bag = options as Record<string, unknown>;
    this.chunks = positiveInteger(this.name, 'chunks', bag.chunks, 16);
    this.temperature = positiveNumber(this.name, 'temperature', bag.temperature, 1);
    this.score = oneOf(this.name, 'score', bag.score, JEST_SCORES, 'learnability');
    this.pairwise = oneOf(this.name, 'pairwise', bag.pairwise, JEST_PAIRWISE, 'none');
    this.pairWeight = nonNegativeNumber(this.name, 'pairWeight', bag.pairWeight, 1);
    const features = oneOf(this.name, 'features', bag.features, ['learner', 'reference'] as const, 'learner');
    if (this.pairwise === 'none') {
      for (const key of ['pairWeight', 'features'] as const) {
        if (bag[key] !== undefined) throw new Error(`jest selector: option ${key} has no effect without pairwise ('hard-negatives' or 'diversity')`);
      }
    }
    this.needs = {
      ...(this.score !== 'easy-reference' ? { learnerLoss: true } : {}),
      ...(this.score !== 'hard-learner' ? { referenceLoss: true } : {}),
      ...(this.pairwise !== 'none' ? { features } : {}),
    };
  }

  async select(input: SelectionInput): Promise<SelectionResult> {
    checkSelectionInput(this.name, input);
    const [learnerLoss, referenceLoss] = await Promise.all([
      this.needs.learnerLoss ? readLossVector(this.name, input, 'learnerLoss') : undefined,
      this.needs.referenceLoss ? readLossVector(this.name, input, 'referenceLoss') : undefined,
    ]);
    const scores = Float64Array.from({ length: input.batchSize }, (_, i) =>
      (learnerLoss ? learnerLoss[i] : 0) - (referenceLoss ? referenceLoss[i] : 0));
    const pairUpdate = this.pairwise === 'none' ? undefined : await this.pairUpdateFor(input);
    const chunks = jestSample(scores, input.keep, this.chunks, this.temperature, selectionRandom(input.seed, input.step), pairUpdate);
    return {
      indices: ascending(chunks.flat()),
      scores: Float32Array.from(scores),
      details: { chunks, chunkSizes: chunks.map((c) => c.length) },
    };
  }

  private async pairUpdateFor(input: SelectionInput): Promise<PairUpdate> {
    const { batchSize, features } = input;
    if (!features) throw new Error(`jest selector with pairwise '${this.pairwise}' needs features ([${batchSize}, F] f32) in its input`);
    if (features.shape.length !== 2 || features.shape[0] !== batchSize || features.shape[1] < 1) {
      throw new Error(`jest selector: features must be [${batchSize}, F] with F >= 1, got [${features.shape.join(', ')}]`);
    }
    checkTensor(this.name, 'features', features, features.size, 'f32');
    const featureSize = features.shape[1];
    let labels: Uint32Array | undefined;
    if (this.pairwise === 'hard-negatives') {
      checkTensor(this.name, 'labels', input.labels, batchSize, 'u32');
      labels = await input.labels.download() as Uint32Array;
    }
    const values = await features.download() as Float32Array;
    for (let i = 0; i < values.length; i++) {
      if (!Number.isFinite(values[i])) throw new Error(`jest selector: features[${Math.floor(i / featureSize)}, ${i % featureSize}] is ${values[i]}; features must be finite`);
    }
    return featurePairUpdate(this.pairwise as Exclude<JestPairwise, 'none'>, this.pairWeight, values, featureSize, labels);
  }
}
