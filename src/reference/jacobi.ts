// Dense symmetric eigen-decomposition by cyclic Jacobi rotations in float64: the reference the GPU Lanczos
// solver is checked against. Jacobi is slow (about 3 n^3 flops a sweep, 6-10 sweeps) but simple, and it computes
// small eigenvalues to high relative accuracy, which is what a graph Laplacian's low end needs.

export interface SymmetricEigen {
  /** Eigenvalues, ascending. */
  values: Float64Array;
  /** Row-major [n, n]: row k is the unit eigenvector of values[k]. */
  vectors: Float64Array;
  sweeps: number;
  /** sqrt(sum of squared off-diagonal entries) when the sweeps stopped. */
  offNorm: number;
}

export interface JacobiOptions {
  /** Stop when the off-diagonal norm is at most this times the Frobenius norm of the input; default 1e-15. */
  tolerance?: number;
  /** Default 60: cyclic Jacobi converges quadratically, so more than ~12 sweeps means a bad input. */
  maxSweeps?: number;
}

/** Eigenpairs of the symmetric n x n row-major matrix `a` (only symmetric inputs are meaningful). */
export function jacobiEigen(a: ArrayLike<number>, n: number, options: JacobiOptions = {}): SymmetricEigen {
  if (a.length !== n * n) throw new Error(`jacobiEigen: a matrix of order ${n} has ${n * n} entries, got ${a.length}`);
  const tolerance = options.tolerance ?? 1e-15;
  const maxSweeps = options.maxSweeps ?? 60;
  const m = Float64Array.from(a as ArrayLike<number>);
  // Eigenvectors as rows, so that a rotation updates two contiguous rows.
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  let frobenius = 0;
  for (let i = 0; i < n * n; i++) frobenius += m[i] * m[i];
  frobenius = Math.sqrt(frobenius);
  const offNorm = () => {
    let s = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) s += m[p * n + q] * m[p * n + q];
    return Math.sqrt(2 * s);
  };
  let off = offNorm();
  let sweeps = 0;
  // Round-robin (tournament) ordering: each round rotates n/2 disjoint pairs at once, so the rows and then the
  // columns of every pair are updated in two passes over whole rows; plain cyclic-by-rows ordering has to write
  // two columns per rotation, a cache miss per entry at n = 512. Each pair still meets once per sweep.
  const players = n + (n % 2);
  const seat = Array.from({ length: players }, (_, i) => i);
  const half = players / 2;
  const pairP = new Int32Array(half), pairQ = new Int32Array(half);
  const cos = new Float64Array(half), sin = new Float64Array(half);
  const diagP = new Float64Array(half), diagQ = new Float64Array(half);
  while (off > tolerance * frobenius && sweeps < maxSweeps) {
    sweeps++;
    for (let round = 0; round < players - 1; round++) {
      let pairs = 0;
      for (let i = 0; i < half; i++) {
        const p = Math.min(seat[i], seat[players - 1 - i]), q = Math.max(seat[i], seat[players - 1 - i]);
        if (q >= n) continue;
        const apq = m[p * n + q];
        if (apq === 0) continue;
        const app = m[p * n + p], aqq = m[q * n + q];
        // The smaller rotation angle (|t| <= 1), computed without overflow (Rutishauser's form).
        const theta = (aqq - app) / (2 * apq);
        const t = (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        pairP[pairs] = p; pairQ[pairs] = q; cos[pairs] = c; sin[pairs] = t * c;
        diagP[pairs] = app - t * apq; diagQ[pairs] = aqq + t * apq;
        pairs++;
      }
      for (let r = 0; r < pairs; r++) {
        const rowP = pairP[r] * n, rowQ = pairQ[r] * n, c = cos[r], s = sin[r];
        rotateRows(m, rowP, rowQ, n, c, s);
        rotateRows(v, rowP, rowQ, n, c, s);
      }
      for (let k = 0; k < n; k++) {
        const row = k * n;
        for (let r = 0; r < pairs; r++) {
          const p = pairP[r], q = pairQ[r], c = cos[r], s = sin[r];
          const g = m[row + p], h = m[row + q];
          m[row + p] = c * g - s * h;
          m[row + q] = s * g + c * h;
        }
      }
      // Each pair's 2x2 block is diagonalised exactly in exact arithmetic: set it so (with the diagonal from the
      // accurate update a_pp - t a_pq) rather than keep the rounding of the two passes.
      for (let r = 0; r < pairs; r++) {
        const p = pairP[r], q = pairQ[r];
        m[p * n + p] = diagP[r];
        m[q * n + q] = diagQ[r];
        m[p * n + q] = 0;
        m[q * n + p] = 0;
      }
      const last = seat[players - 1];
      for (let i = players - 1; i > 1; i--) seat[i] = seat[i - 1];
      seat[1] = last;
    }
    off = offNorm();
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => m[i * n + i] - m[j * n + j] || i - j);
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  order.forEach((src, dst) => {
    values[dst] = m[src * n + src];
    vectors.set(v.subarray(src * n, src * n + n), dst * n);
  });
  return { values, vectors, sweeps, offNorm: off };
}

/** rows p and q of x (starting at offsets rowP, rowQ) <- the rotation [c -s; s c] of the pair. */
function rotateRows(x: Float64Array, rowP: number, rowQ: number, n: number, c: number, s: number): void {
  for (let k = 0; k < n; k++) {
    const g = x[rowP + k], h = x[rowQ + k];
    x[rowP + k] = c * g - s * h;
    x[rowQ + k] = s * g + c * h;
  }
}
