// Float64 reference of the k-nearest-neighbour sparsification (shaders/graph.wgsl knn_mask, knn_symmetrize): each
// row keeps its K largest off-diagonal weights, ties to the lower column, and an edge kept by either end stays,
// W'_ij = max(m_ij W_ij, m_ji W_ji). A sort per row, the obvious way, against the kernel's bitwise threshold search.

/** The kernel counts a weight that is not > 0 (zero, NaN) as 0 when ranking. */
function rankKey(w: number): number {
  return w > 0 ? w : 0;
}

/** m_ij = 1 when j is among the K nearest of i (row-major [n, n], diagonal 0). */
export function knnMaskReference(weights: ArrayLike<number>, n: number, neighbours: number): Uint8Array {
  const mask = new Uint8Array(n * n);
  for (let i = 0; i < n; i++) {
    const others = Array.from({ length: n }, (_, j) => j).filter((j) => j !== i);
    others.sort((a, b) => rankKey(weights[i * n + b]) - rankKey(weights[i * n + a]) || a - b);
    for (const j of others.slice(0, neighbours)) mask[i * n + j] = 1;
  }
  return mask;
}

/** The symmetrised kNN weights and their row sums. */
export function knnReference(weights: ArrayLike<number>, n: number, neighbours: number): { weights: Float64Array; degrees: Float64Array } {
  const mask = knnMaskReference(weights, n, neighbours);
  const sparse = new Float64Array(n * n);
  const degrees = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const w = Math.max(mask[i * n + j] ? weights[i * n + j] : 0, mask[j * n + i] ? weights[j * n + i] : 0);
      sparse[i * n + j] = w;
      degrees[i] += w;
    }
  }
  return { weights: sparse, degrees };
}
