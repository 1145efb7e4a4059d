// Float64 reference of the SALN scoring path (src/ops/graph.ts, src/select/saln.ts) and of the Lanczos vector
// kernels (shaders/lanczos.wgsl). The Fiedler pair comes from the dense Jacobi solver on L + c u u^T: the null
// vector u is moved to the top of the spectrum (c above every eigenvalue), so the lowest pair is the lowest on
// u's complement, exactly what the GPU's deflated Lanczos computes.
import type { Affinity, LaplacianKind } from '../ops/graph.ts';
import { pickByRule, type FiedlerRule } from '../select/saln.ts';
import { jacobiEigen } from './jacobi.ts';

// ---- the graph ---------------------------------------------------------------------------------------------

/** Rows of features [rows, cols] scaled to unit L2 norm; zero rows stay zero. */
export function normalizeRowsReference(features: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let sum = 0;
    for (let c = 0; c < cols; c++) sum += features[r * cols + c] ** 2;
    const scale = sum > 0 ? 1 / Math.sqrt(sum) : 0;
    for (let c = 0; c < cols; c++) out[r * cols + c] = features[r * cols + c] * scale;
  }
  return out;
}

/** S = U U^T of unit rows U [rows, cols]. */
export function gramReference(unit: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * rows);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < rows; j++) {
      let s = 0;
      for (let c = 0; c < cols; c++) s += unit[i * cols + c] * unit[j * cols + c];
      out[i * rows + j] = s;
    }
  }
  return out;
}

export function affinityOf(s: number, affinity: Affinity, temperature: number): number {
  if (affinity === 'clip') return Math.max(s, 0);
  if (affinity === 'shift') return (s + 1) / 2;
  return Math.exp(-(1 - s) / temperature);
}

/** W_ij = affinity((S_ij + S_ji) / 2) off the diagonal, 0 on it, and the degrees d = W 1. */
export function affinityReference(similarity: ArrayLike<number>, n: number, affinity: Affinity, temperature = 1): { weights: Float64Array; degrees: Float64Array } {
  const weights = new Float64Array(n * n);
  const degrees = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const w = i === j ? 0 : affinityOf((similarity[i * n + j] + similarity[j * n + i]) / 2, affinity, temperature);
      weights[i * n + j] = w;
      degrees[i] += w;
    }
  }
  return { weights, degrees };
}

/** D - W, or I - D^-1/2 W D^-1/2 with D^-1/2 = 0 at isolated vertices. */
export function laplacianReference(weights: ArrayLike<number>, degrees: ArrayLike<number>, n: number, kind: LaplacianKind): Float64Array {
  const out = new Float64Array(n * n);
  const root = Float64Array.from(degrees, (d) => (d > 0 ? 1 / Math.sqrt(d) : 0));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const w = weights[i * n + j];
      out[i * n + j] = kind === 'normalized' ? (i === j ? 1 : 0) - w * root[i] * root[j] : (i === j ? degrees[i] : 0) - w;
    }
  }
  return out;
}

/** 1 / sqrt(n) for D - W; D^1/2 1 normalised for L_sym (zeros when every degree is 0). */
export function nullVectorReference(degrees: ArrayLike<number>, kind: LaplacianKind): Float64Array {
  const n = degrees.length;
  if (kind === 'unnormalized') return new Float64Array(n).fill(1 / Math.sqrt(n));
  let total = 0;
  for (let i = 0; i < n; i++) total += degrees[i];
  return Float64Array.from(degrees, (d) => (total > 0 ? Math.sqrt(d / total) : 0));
}

// ---- the whole path ----------------------------------------------------------------------------------------

export interface SalnReferenceOptions {
  affinity: Affinity;
  temperature: number;
  laplacian: LaplacianKind;
  rule: FiedlerRule;
}

export interface SalnReference {
  laplacian: Float64Array;
  nullVector: Float64Array;
  /** Eigenvalues of L on the null vector's complement, ascending (B - 1 of them; all B when there is none). */
  values: Float64Array;
  /** The unit Fiedler vector, largest-magnitude entry (first among equals) positive. */
  fiedler: Float64Array;
  /** Distance from lambda_2 to the rest of the complement's spectrum (lambda_3 - lambda_2). */
  gap: number;
  indices: Uint32Array;
  scores: Float32Array;
}

/** The SALN choice of `keep` of the B rows of features [B, F], in float64 (B >= 3). */
export function salnReference(features: ArrayLike<number>, B: number, F: number, keep: number, options: SalnReferenceOptions): SalnReference {
  const unit = normalizeRowsReference(features, B, F);
  const { weights, degrees } = affinityReference(gramReference(unit, B, F), B, options.affinity, options.temperature);
  const laplacian = laplacianReference(weights, degrees, B, options.laplacian);
  const nullVector = nullVectorReference(degrees, options.laplacian);
  const { values, vectors } = deflatedEigen(laplacian, nullVector, B);
  const fiedler = orientSignReference(vectors.slice(0, B));
  const picked = pickByRule(fiedler, keep, options.rule);
  return { laplacian, nullVector, values, fiedler, gap: values.length > 1 ? values[1] - values[0] : Infinity, ...picked };
}

/**
 * Eigenpairs of the symmetric L [n, n] on the complement of the unit vector u (u = 0: all of them), ascending:
 * Jacobi on `shifted` = L + c u u^T with c above L's Gershgorin bound, the top pair (u itself) dropped.
 */
export function deflatedEigen(L: ArrayLike<number>, u: ArrayLike<number>, n: number): { values: Float64Array; vectors: Float64Array; hasNull: boolean; shifted: Float64Array } {
  let bound = 0;
  for (let i = 0; i < n; i++) {
    let row = 0;
    for (let j = 0; j < n; j++) row += Math.abs(L[i * n + j]);
    bound = Math.max(bound, row);
  }
  // u is unit or zero (L_sym with every degree 0 has no null vector).
  const hasNull = norm2(u) > 0.5;
  const shift = 2 * bound + 1;
  const m = Float64Array.from(L as ArrayLike<number>);
  if (hasNull) for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) m[i * n + j] += shift * u[i] * u[j];
  const eigen = jacobiEigen(m, n);
  const kept = hasNull ? n - 1 : n;
  return { values: eigen.values.slice(0, kept), vectors: eigen.vectors.slice(0, kept * n), hasNull, shifted: m };
}

export function orientSignReference(v: Float64Array): Float64Array {
  let at = 0;
  for (let i = 1; i < v.length; i++) if (Math.abs(v[i]) > Math.abs(v[at])) at = i;
  return v[at] < 0 ? v.map((x) => -x) : v;
}

// ---- the Lanczos vector kernels ----------------------------------------------------------------------------

/** A x for symmetric A [n, n]. */
export function matvecReference(a: ArrayLike<number>, x: ArrayLike<number>, n: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let k = 0; k < n; k++) s += a[i * n + k] * x[k];
    out[i] = s;
  }
  return out;
}

/** <basis row r, w> for r < rows. */
export function projectReference(basis: ArrayLike<number>, w: ArrayLike<number>, rows: number, n: number): Float64Array {
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) for (let i = 0; i < n; i++) out[r] += basis[r * n + i] * w[i];
  return out;
}

/** w - sum_r c_r basis row r. */
export function subtractReference(basis: ArrayLike<number>, w: ArrayLike<number>, c: ArrayLike<number>, rows: number, n: number): Float64Array {
  const out = Float64Array.from(w as ArrayLike<number>);
  for (let r = 0; r < rows; r++) for (let i = 0; i < n; i++) out[i] -= c[r] * basis[r * n + i];
  return out;
}

/** sum_r c[v * rows + r] basis row (first + r), for v < count: [count, n]. */
export function combineReference(basis: ArrayLike<number>, first: number, c: ArrayLike<number>, rows: number, count: number, n: number): Float64Array {
  const out = new Float64Array(count * n);
  for (let v = 0; v < count; v++) for (let r = 0; r < rows; r++) for (let i = 0; i < n; i++) out[v * n + i] += c[v * rows + r] * basis[(first + r) * n + i];
  return out;
}

/** |p_v - theta_v y_v| for each row v. */
export function residualReference(y: ArrayLike<number>, p: ArrayLike<number>, thetas: ArrayLike<number>, n: number): Float64Array {
  return Float64Array.from(thetas as ArrayLike<number>, (theta, v) => {
    let s = 0;
    for (let i = 0; i < n; i++) s += (p[v * n + i] - theta * y[v * n + i]) ** 2;
    return Math.sqrt(s);
  });
}

export function norm2(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * x[i];
  return Math.sqrt(s);
}
