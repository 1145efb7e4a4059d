// Spectral clusters of a super-batch (Ng, Jordan and Weiss 2001): sample i's row of the k lowest eigenvectors of
// the Laplacian, scaled to unit length, then k-means on those rows. The lowest eigenvector is the Laplacian's
// known null vector (deflated in Lanczos, so not computed; it is the constant, or D^1/2 1 for L_sym), the other
// k - 1 come from Lanczos. Keeping the null vector in the rows is what makes the row scaling safe: without it a
// sample with small entries in every non-trivial vector (one tied to several clusters) would be blown up to a
// unit row pointing wherever its rounding points.
import type { CpuRandom } from '../rng.ts';
import { kmeans } from './kmeans.ts';
import type { Groups } from './spectral-rules.ts';

export interface SpectralClusters extends Groups {
  /** [B]: squared distance of each sample's embedding row to its cluster's centroid (lower: more typical). */
  distance: Float64Array;
}

/**
 * `vectors` [m, B] (the lowest non-trivial eigenvectors, m >= 1) and the null vector [B] -> at most `k` clusters
 * (fewer when the rows have fewer distinct positions). Sign-free: negating any vector reflects one coordinate of
 * every row, which changes no distance, so k-means draws and decides exactly as before.
 */
export function spectralClusters(vectors: ArrayLike<number>, nullVector: ArrayLike<number>, n: number, k: number, random: CpuRandom): SpectralClusters {
  const m = vectors.length / n;
  const dims = m + 1;
  const rows = new Float64Array(n * dims);
  for (let i = 0; i < n; i++) {
    rows[i * dims] = nullVector[i];
    for (let v = 0; v < m; v++) rows[i * dims + 1 + v] = vectors[v * n + i];
    let norm = 0;
    for (let d = 0; d < dims; d++) norm += rows[i * dims + d] ** 2;
    // A zero row (an isolated sample under L_sym, whose null vector is 0 there) stays at the origin.
    const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    for (let d = 0; d < dims; d++) rows[i * dims + d] *= scale;
  }
  const result = kmeans(rows, n, dims, Math.min(k, n), random);
  return { groupOf: result.assignment, count: result.count, distance: result.distance };
}
