// The batch's similarity graph on the GPU (shaders/graph.wgsl): unit feature rows, cosine similarity by the
// matmul kernels, affinity and degrees, optionally its k-nearest-neighbour sparsification, the Laplacian and its
// known null vector.
import { Tensor } from '../tensor.ts';
import { matmul } from './matmul.ts';

/** How negative cosine similarities are kept out of the weights: max(S, 0), (S + 1) / 2, or exp(-(1 - S) / t). */
export type Affinity = 'clip' | 'shift' | 'exp';
/** D - W, or I - D^-1/2 W D^-1/2. */
export type LaplacianKind = 'unnormalized' | 'normalized';

/**
 * 'dense': every pair weighted; 'knn': each sample keeps its K largest weights, symmetrised by max(W, W^T). On a
 * dense graph a cluster's weak ties to every other sample add up to more than its strong ties inside, so the low
 * modes follow the weakest-connected samples; keeping only near neighbours leaves the cluster structure.
 */
export type GraphKind = 'dense' | 'knn';

export const AFFINITIES: readonly Affinity[] = ['clip', 'shift', 'exp'];
export const LAPLACIANS: readonly LaplacianKind[] = ['unnormalized', 'normalized'];
export const GRAPH_KINDS: readonly GraphKind[] = ['dense', 'knn'];
const AFFINITY_CODE: Record<Affinity, number> = { clip: 0, shift: 1, exp: 2 };

export interface GraphOptions {
  affinity: Affinity;
  /** t of the exp affinity (ignored by the others); > 0. */
  temperature: number;
  laplacian: LaplacianKind;
  /** Default 'dense'. */
  graph?: GraphKind;
  /** K of the 'knn' graph (a positive integer; K >= B - 1 keeps every edge). */
  neighbours?: number;
}

export interface SpectralGraph {
  /** [B, B], symmetric. */
  laplacian: Tensor;
  /** [B]: row sums of the affinity W. */
  degrees: Tensor;
  /** [1, B]: the unit null vector of the Laplacian (zeros when L_sym has none: every degree 0). */
  nullVector: Tensor;
  dispose(): void;
}

export function checkGraphOptions(options: GraphOptions): void {
  if (!AFFINITIES.includes(options.affinity)) throw new Error(`affinity must be one of ${AFFINITIES.join(', ')}, got '${options.affinity}'`);
  if (!LAPLACIANS.includes(options.laplacian)) throw new Error(`laplacian must be one of ${LAPLACIANS.join(', ')}, got '${options.laplacian}'`);
  if (options.affinity === 'exp' && !(options.temperature > 0 && Number.isFinite(options.temperature))) {
    throw new Error(`the exp affinity needs a positive finite temperature, got ${options.temperature}`);
  }
  const graph = options.graph ?? 'dense';
  if (!GRAPH_KINDS.includes(graph)) throw new Error(`graph must be one of ${GRAPH_KINDS.join(', ')}, got '${graph}'`);
  if (graph === 'knn' && !(Number.isSafeInteger(options.neighbours) && options.neighbours! >= 1)) {
    throw new Error(`the knn graph needs neighbours, a positive integer, got ${options.neighbours}`);
  }
}

function matrixShape(t: Tensor, what: string): [number, number] {
  if (t.shape.length !== 2) throw new Error(`${what} must be [rows, cols], got [${t.shape.join(', ')}]`);
  return [t.shape[0], t.shape[1]];
}

/** Rows scaled to unit L2 norm; a zero row stays zero. */
export function normalizeRows(features: Tensor): Tensor {
  const [rows, cols] = matrixShape(features, 'features');
  const out = Tensor.empty(features.rt, [rows, cols]);
  if (out.size === 0) return out;
  features.rt.launch({
    shader: 'graph', entry: 'normalize_rows', bindings: { features, unitRows: out },
    needs: { features: rows * cols, unitRows: rows * cols }, uniforms: { rows, cols }, workgroups: rows,
  });
  return out;
}

/** W = affinity of the symmetrised similarity with a zero diagonal, and its row sums. */
export function affinityAndDegrees(similarity: Tensor, affinity: Affinity, temperature = 1): { weights: Tensor; degrees: Tensor } {
  const [n, m] = matrixShape(similarity, 'similarity');
  if (n !== m) throw new Error(`similarity must be square, got [${n}, ${m}]`);
  const rt = similarity.rt;
  const weights = Tensor.empty(rt, [n, n]);
  const degrees = Tensor.empty(rt, [n]);
  if (n > 0) {
    rt.launch({
      shader: 'graph', entry: 'affinity', overrides: { AFFINITY: AFFINITY_CODE[affinity] },
      bindings: { similarity, weights, degrees }, needs: { similarity: n * n, weights: n * n, degrees: n },
      uniforms: { rows: n, temperature: affinity === 'exp' ? temperature : 1 }, workgroups: n,
    });
  }
  return { weights, degrees };
}

/**
 * The k-nearest-neighbour graph of the affinity W [n, n] (zero diagonal, non-negative): row i keeps its
 * `neighbours` largest off-diagonal weights (ties to the lower column), then W'_ij = max(m_ij W_ij, m_ji W_ji);
 * and the degrees of W'. W is left as it was.
 */
export function knnSparsify(weights: Tensor, neighbours: number): { weights: Tensor; degrees: Tensor } {
  const [n, m] = matrixShape(weights, 'weights');
  if (n !== m) throw new Error(`weights must be square, got [${n}, ${m}]`);
  if (!(Number.isSafeInteger(neighbours) && neighbours >= 1)) throw new Error(`neighbours must be a positive integer, got ${neighbours}`);
  const rt = weights.rt;
  const sparse = Tensor.empty(rt, [n, n]);
  const degrees = Tensor.empty(rt, [n]);
  if (n > 0) {
    const mask = Tensor.empty(rt, [n, n], 'u32');
    // K above 2^32 - 1 keeps every edge, exactly as K = B - 1 does.
    rt.launch({
      shader: 'graph', entry: 'knn_mask', bindings: { weights, neighbourMask: mask },
      needs: { weights: n * n, neighbourMask: n * n }, uniforms: { rows: n, neighbours: Math.min(neighbours, 0xffffffff) }, workgroups: n,
    });
    rt.launch({
      shader: 'graph', entry: 'knn_symmetrize', bindings: { denseWeights: weights, neighbourMaskIn: mask, weights: sparse, degrees },
      needs: { denseWeights: n * n, neighbourMaskIn: n * n, weights: n * n, degrees: n }, uniforms: { rows: n }, workgroups: n,
    });
    mask.dispose();
  }
  return { weights: sparse, degrees };
}

/** Turns the affinity W into its Laplacian in place and returns it. */
export function laplacianInPlace(weights: Tensor, degrees: Tensor, kind: LaplacianKind): Tensor {
  const n = weights.shape[0];
  if (n > 0) {
    weights.rt.launch({
      shader: 'graph', entry: 'laplacian', overrides: { NORMALIZED: kind === 'normalized' },
      bindings: { weights, degreesIn: degrees }, needs: { weights: n * n, degreesIn: n },
      uniforms: { rows: n }, invocations: n * n,
    });
  }
  return weights;
}

/** [1, B]: the Laplacian's unit null vector from the degrees. */
export function laplacianNullVector(degrees: Tensor, kind: LaplacianKind): Tensor {
  const n = degrees.size;
  const out = Tensor.empty(degrees.rt, [1, n]);
  if (n > 0) {
    degrees.rt.launch({
      shader: 'graph', entry: 'null_vector', overrides: { NORMALIZED: kind === 'normalized' },
      bindings: { degreesIn: degrees, nullVector: out }, needs: { degreesIn: n, nullVector: n },
      uniforms: { rows: n }, workgroups: 1,
    });
  }
  return out;
}

/** features [B, F] -> the Laplacian of the cosine-similarity graph, its degrees and null vector. */
export function buildGraph(features: Tensor, options: GraphOptions): SpectralGraph {
  checkGraphOptions(options);
  matrixShape(features, 'features');
  // The unit rows, the similarity and (for knn) the dense graph are freed when the scope ends.
  const { laplacian, degrees, nullVector } = features.rt.scope(() => {
    const unit = normalizeRows(features);
    let { weights, degrees } = affinityAndDegrees(matmul(unit, unit, { transB: true }), options.affinity, options.temperature);
    if ((options.graph ?? 'dense') === 'knn') ({ weights, degrees } = knnSparsify(weights, options.neighbours!));
    return { laplacian: laplacianInPlace(weights, degrees, options.laplacian), degrees, nullVector: laplacianNullVector(degrees, options.laplacian) };
  });
  return {
    laplacian, degrees, nullVector,
    dispose() { laplacian.dispose(); degrees.dispose(); nullVector.dispose(); },
  };
}
