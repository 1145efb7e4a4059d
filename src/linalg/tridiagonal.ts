// The symmetric tridiagonal eigenproblem on the CPU in float64: Lanczos (lanczos.ts) reduces a symmetric
// matrix to one and reads its Ritz pairs from here.

export interface TridiagonalEigen {
  /** Ascending. */
  values: Float64Array;
  /** With `vectors`: row-major [m, m], row j the unit eigenvector of values[j]. */
  vectors?: Float64Array;
  /** Last component of each eigenvector (the residual estimate's factor), always given. */
  lastRow: Float64Array;
}

/**
 * Eigenpairs of the symmetric tridiagonal matrix with diagonal `diag` (length m) and off-diagonal `off` (length
 * m - 1; off[i] couples i and i + 1), by implicit QL with Wilkinson shifts (EISPACK tql2). With `vectors` false
 * only the last row of the eigenvector matrix is carried through the rotations: O(m^2) instead of O(m^3).
 */
export function tridiagonalEigen(diag: ArrayLike<number>, off: ArrayLike<number>, vectors = true): TridiagonalEigen {
  const m = diag.length;
  if (off.length < m - 1) throw new Error(`tridiagonalEigen: ${m} diagonal entries need ${m - 1} off-diagonal ones, got ${off.length}`);
  const d = Float64Array.from(diag as ArrayLike<number>);
  const e = new Float64Array(m);
  for (let i = 0; i < m - 1; i++) e[i] = off[i];
  // Rows of the accumulated rotation matrix V (its columns become the eigenvectors): all, or only the last.
  const tracked: Float64Array[] = [];
  for (let k = vectors ? 0 : m - 1; k < m; k++) {
    const row = new Float64Array(m);
    row[k] = 1;
    tracked.push(row);
  }
  const eps = 2 ** -52;
  let shiftTotal = 0;
  let scale = 0;
  for (let l = 0; l < m; l++) {
    scale = Math.max(scale, Math.abs(d[l]) + Math.abs(e[l]));
    let split = l;
    while (split < m - 1 && Math.abs(e[split]) > eps * scale) split++;
    if (split > l) {
      let iterations = 0;
      do {
        if (++iterations > 100) throw new Error(`tridiagonalEigen: no convergence at row ${l} of ${m}`);
        let g = d[l];
        let p = (d[l + 1] - g) / (2 * e[l]);
        let r = Math.hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l] / (p + r);
        d[l + 1] = e[l] * (p + r);
        const dl1 = d[l + 1];
        let h = g - d[l];
        for (let i = l + 2; i < m; i++) d[i] -= h;
        shiftTotal += h;
        p = d[split];
        let c = 1, c2 = 1, c3 = 1, s = 0, s2 = 0;
        const el1 = e[l + 1];
        for (let i = split - 1; i >= l; i--) {
          c3 = c2; c2 = c; s2 = s;
          g = c * e[i];
          h = c * p;
          r = Math.hypot(p, e[i]);
          e[i + 1] = s * r;
          s = e[i] / r;
          c = p / r;
          p = c * d[i] - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]);
          for (const row of tracked) {
            const t = row[i + 1];
            row[i + 1] = s * row[i] + c * t;
            row[i] = c * row[i] - s * t;
          }
        }
        p = (-s * s2 * c3 * el1 * e[l]) / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l]) > eps * scale);
    }
    d[l] += shiftTotal;
    e[l] = 0;
  }
  const order = Array.from({ length: m }, (_, i) => i).sort((i, j) => d[i] - d[j] || i - j);
  const values = Float64Array.from(order, (i) => d[i]);
  const last = tracked[tracked.length - 1];
  const lastRow = Float64Array.from(order, (i) => last[i]);
  if (!vectors) return { values, lastRow };
  const out = new Float64Array(m * m);
  order.forEach((src, dst) => { for (let k = 0; k < m; k++) out[dst * m + k] = tracked[k][src]; });
  return { values, vectors: out, lastRow };
}
