// The GPU half of a SALN selection with its time split: the batch's graph (built and waited for, so its time is
// its own), then the `count` lowest eigenpairs of its Laplacian on the null vector's complement by Lanczos, read
// back with the degrees and the null vector the CPU rules use. The same launches as fiedlerVector (saln.ts) for
// count = 1, so the Fiedler vector is the same to the bit.
import type { Tensor } from '../tensor.ts';
import { buildGraph } from '../ops/graph.ts';
import { lanczos } from '../linalg/lanczos.ts';
import { orientSign, type SpectralOptions } from './saln.ts';

export interface SpectralStep {
  /** The unit eigenvectors, lowest first, each with its largest-magnitude entry positive (none for count 0). */
  vectors: Float32Array[];
  /** The lowest Ritz values, ascending: at least 5 (as many as there are), and `count` when that is more. */
  eigenvalues: number[];
  /** |L y - theta y| of each vector. */
  residuals: number[];
  iterations: number;
  converged: boolean;
  /** [B] row sums of the graph's weights. */
  degrees: Float32Array;
  /** [B] the Laplacian's unit null vector. */
  nullVector: Float32Array;
  /** Milliseconds: the graph (its kernels finished) and the eigen-solve (its vectors read back). */
  timing: { graph: number; lanczos: number };
}

/** features [B, F], B >= 3; count 0 builds the graph only (the degree rule). */
export async function spectralStep(features: Tensor, options: SpectralOptions, count: number, start: ArrayLike<number>): Promise<SpectralStep> {
  const rt = features.rt;
  const began = performance.now();
  const graph = buildGraph(features, options);
  try {
    const [degrees, nullVector] = await Promise.all([graph.degrees.download(), graph.nullVector.download()]) as Float32Array[];
    const built = performance.now();
    if (count === 0) {
      return { vectors: [], eigenvalues: [], residuals: [], iterations: 0, converged: true, degrees, nullVector, timing: { graph: built - began, lanczos: 0 } };
    }
    const result = await lanczos(rt, graph.laplacian, {
      count, maxSteps: options.lanczosSteps, tolerance: options.tolerance, deflate: graph.nullVector, start,
    });
    const all = await result.vectors.download() as Float32Array;
    result.vectors.dispose();
    const n = degrees.length;
    const vectors = result.values.map((_, v) => orientSign(all.slice(v * n, (v + 1) * n)));
    return {
      vectors, eigenvalues: result.ritzValues.slice(0, Math.max(5, count)), residuals: result.residuals,
      iterations: result.iterations, converged: result.converged, degrees, nullVector,
      timing: { graph: built - began, lanczos: performance.now() - built },
    };
  } finally {
    graph.dispose();
  }
}
