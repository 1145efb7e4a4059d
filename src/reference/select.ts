// Float64 references of the baseline selectors, written independently of src/select/: the top-k by counting
// ranks, the exact inclusion probabilities of sampling without replacement proportional to exp(logit), and JEST's
// Algorithm 1 (Evans et al. 2024) literally, on a dense B x B score matrix.
import type { CpuRandom } from '../rng.ts';

/**
 * The k best indices by score (higher first, ties to the lower index), ascending: i is kept when fewer than k
 * candidates beat it. O(B^2), no sort.
 */
export function topKReference(scores: ArrayLike<number>, k: number): number[] {
  const kept: number[] = [];
  for (let i = 0; i < scores.length; i++) {
    let beaten = 0;
    for (let j = 0; j < scores.length; j++) if (scores[j] > scores[i] || (scores[j] === scores[i] && j < i)) beaten++;
    if (beaten < k) kept.push(i);
  }
  return kept;
}

/**
 * P(i is among the first `draws` draws) when candidates are drawn one at a time without replacement, each with
 * probability exp(logit_i) / sum over those left. Exact, by summing the probability of every drawn set over the
 * subsets of at most `draws` candidates (2^B states: B <= 20).
 */
export function sequentialInclusionReference(logits: ArrayLike<number>, draws: number): Float64Array {
  const n = logits.length;
  if (n > 20) throw new Error(`sequentialInclusionReference enumerates 2^B subsets; B = ${n} is too many`);
  const top = Math.max(...Array.from(logits));
  const weights = Array.from(logits, (l) => Math.exp(l - top));
  const total = weights.reduce((s, w) => s + w, 0);
  const probability = new Float64Array(1 << n);
  const size = new Uint8Array(1 << n);
  const drawnWeight = new Float64Array(1 << n);
  probability[0] = 1;
  const inclusion = new Float64Array(n);
  // A set's predecessors (one element fewer) are numerically smaller, so increasing order visits them first.
  for (let set = 0; set < 1 << n; set++) {
    if (probability[set] === 0) continue;
    if (size[set] === draws) {
      for (let i = 0; i < n; i++) if (set & (1 << i)) inclusion[i] += probability[set];
      continue;
    }
    const left = total - drawnWeight[set];
    for (let j = 0; j < n; j++) {
      if (set & (1 << j)) continue;
      const next = set | (1 << j);
      probability[next] += probability[set] * weights[j] / left;
      size[next] = size[set] + 1;
      drawnWeight[next] = drawnWeight[set] + weights[j];
    }
  }
  return inclusion;
}

/** The off-diagonal term of JEST's score matrix from features (see src/select/jest.ts): s_ij = weight * pair(i, j). */
export function jestPairScoreReference(kind: 'hard-negatives' | 'diversity', weight: number, features: ArrayLike<number>,
  featureSize: number, labels: ArrayLike<number> | undefined, i: number, j: number): number {
  let dot = 0, normI = 0, normJ = 0;
  for (let f = 0; f < featureSize; f++) {
    const a = features[i * featureSize + f], b = features[j * featureSize + f];
    dot += a * b;
    normI += a * a;
    normJ += b * b;
  }
  const cos = normI > 0 && normJ > 0 ? dot / Math.sqrt(normI * normJ) : 0;
  if (kind === 'diversity') return -weight * cos;
  return labels![i] !== labels![j] ? weight * Math.max(0, cos) : 0;
}

/**
 * JEST's `jointly_sample_batch` (the paper's Algorithm 1) on a dense row-major score matrix [B, B]: the first
 * chunk from softmax(diag / temperature), each next one from softmax((s_ii + sum_{j sampled} (s_ji + s_ij)) /
 * temperature) over the unsampled candidates. np.random.choice(replace=False) is replaced by repeated argmax of
 * logit / temperature + Gumbel (one Gumbel per candidate per chunk, in index order), the same distribution, so
 * that the same generator reproduces the selector's draws. Chunk c of min(chunks, keep) holds
 * ceil(left / chunks left) candidates. Returns the chunks in draw order.
 */
export function jestReference(scoreMatrix: ArrayLike<number>, batchSize: number, keep: number, chunks: number,
  temperature: number, random: CpuRandom): number[][] {
  const sampled = new Array<number>(batchSize).fill(0);
  const drawn: number[][] = [];
  let left = keep;
  for (let chunksLeft = Math.min(chunks, keep); chunksLeft > 0; chunksLeft--) {
    const size = Math.ceil(left / chunksLeft);
    left -= size;
    const logits = Array.from({ length: batchSize }, (_, i) => {
      let logit = scoreMatrix[i * batchSize + i];
      for (let j = 0; j < batchSize; j++) logit += (scoreMatrix[j * batchSize + i] + scoreMatrix[i * batchSize + j]) * sampled[j];
      return logit;
    });
    const keys = logits.map((logit) => logit / temperature - Math.log(-Math.log(random.next() || 2 ** -54)));
    const chunk: number[] = [];
    for (let d = 0; d < size; d++) {
      let best = -1;
      for (let i = 0; i < batchSize; i++) if (!sampled[i] && (best < 0 || keys[i] > keys[best])) best = i;
      sampled[best] = 1;
      chunk.push(best);
    }
    drawn.push(chunk);
  }
  return drawn;
}
