// The lowest eigenpairs of a symmetric matrix by Lanczos with full re-orthogonalisation: the Krylov basis, the
// mat-vecs, dot products, norms and Ritz vectors stay on the GPU (shaders/lanczos.wgsl); the CPU reads back the
// tridiagonal's alpha and beta every few steps and solves it in float64 (implicit QL).
//
// Known null vectors are deflated, not shifted away: they sit in front of the Krylov basis, the start vector and
// every Krylov vector are orthogonalised against them, so the lowest Ritz pair is the lowest pair of the
// operator on their complement (for a Laplacian, the Fiedler pair). A spectral shift (c I - L) would not help
// Lanczos: the Krylov space of c I - L is that of L, so both ends converge exactly as fast as before, and the
// shift only adds c to every Ritz value (costing absolute accuracy at the low end, where the Fiedler value
// lives). Deflation also removes the null eigenvalue from the low end, so the Fiedler value no longer sits
// next to 0: convergence depends on its gap to lambda_3, not to 0.
import type { Runtime } from '../gpu/runtime.ts';
import { Tensor } from '../tensor.ts';
import { uniformArray } from '../rng.ts';
import { copy } from '../ops/fill.ts';
import { tridiagonalEigen } from './tridiagonal.ts';

export interface LanczosOptions {
  /** Lowest pairs wanted (on the complement of `deflate`); default 1. */
  count?: number;
  /** Krylov steps at most (capped at n minus the deflated rows, where the space is exhausted); default 100. */
  maxSteps?: number;
  /** Stop when each wanted pair's residual |A y - theta y| <= tolerance * |A| (|A| estimated by the extreme Ritz value). */
  tolerance?: number;
  /** The start vector (length n); default uniform in [-1, 1)^n from (seed, stream) of src/rng.ts. */
  start?: ArrayLike<number>;
  seed?: number;
  stream?: number;
  /** [d, n] orthonormal rows to deflate (known eigenvectors; zero rows are harmless). */
  deflate?: Tensor;
  /** Steps between readbacks of alpha and beta; default 8. The result does not depend on it. */
  checkEvery?: number;
}

export interface LanczosResult {
  /** The `count` lowest Ritz values, ascending (fewer when the Krylov space was exhausted first). */
  values: number[];
  /** [values.length, n]: the unit Ritz vectors (the caller disposes). */
  vectors: Tensor;
  /** |A y - theta y| of each pair, computed on the GPU from the assembled Ritz vector. */
  residuals: number[];
  /** |beta_m s_m| of each pair: the residual in exact arithmetic (the stopping test). */
  estimates: number[];
  /** All Ritz values of the final tridiagonal, ascending (upper bounds of the lowest eigenvalues, in order). */
  ritzValues: number[];
  /** Lanczos steps taken (the order of the tridiagonal). */
  iterations: number;
  /** max |Ritz value|: a lower bound of |A|_2, accurate once the extreme pairs have converged. */
  normEstimate: number;
  converged: boolean;
}

export const LANCZOS_DEFAULTS = { count: 1, maxSteps: 100, tolerance: 1e-5, checkEvery: 8 } as const;

const NO_SLOT = 0xffffffff;
/** The normalize kernel's threshold below which a vector counts as zero (an exhausted Krylov space). */
const BREAKDOWN = 1e-30;

// ---- the GPU side ------------------------------------------------------------------------------------------

/** product row `dst` = A (basis row `src`); A symmetric [n, n]. */
export function matvec(rt: Runtime, symmetric: Tensor, basis: Tensor, src: number, product: Tensor, dst: number): void {
  const n = symmetric.shape[0];
  rt.launch({
    shader: 'lanczos', entry: 'matvec', bindings: { symmetric, basis, product },
    needs: { symmetric: n * n, basis: (src + 1) * n, product: (dst + 1) * n },
    uniforms: { n, src, dst }, invocations: n,
  });
}

/** coeffs[offset + r] = <basis row r, work> for r < rows (one workgroup per row). */
export function project(rt: Runtime, basis: Tensor, work: Tensor, rows: number, coeffs: Tensor, offset: number): void {
  launchRows(rt, 'project', basis, work, rows, coeffs, offset);
}

/** work -= sum_r coeffs[offset + r] basis row r, r < rows (one invocation per element). */
export function subtract(rt: Runtime, basis: Tensor, work: Tensor, rows: number, coeffs: Tensor, offset: number): void {
  launchRows(rt, 'subtract', basis, work, rows, coeffs, offset);
}

/** The two Gram-Schmidt halves share their bindings and uniforms (RowsParams). */
function launchRows(rt: Runtime, entry: 'project' | 'subtract', basis: Tensor, work: Tensor, rows: number, coeffs: Tensor, offset: number): void {
  const n = work.size;
  if (rows === 0) return;
  rt.launch({
    shader: 'lanczos', entry, bindings: { basis, work, coeffs },
    needs: { basis: rows * n, work: n, coeffs: offset + rows },
    uniforms: { n, rows, coeffOffset: offset }, ...(entry === 'project' ? { workgroups: rows } : { invocations: n }),
  });
}

/**
 * Basis row `dst` = work / |work| (zeros when |work| <= 1e-30), scalars[normSlot] = |work|, and when `alpha` is
 * given, scalars[alpha.slot] = coeffs[alpha.row] + coeffs[alpha.secondOffset + alpha.row].
 */
export function normalizeInto(rt: Runtime, work: Tensor, basis: Tensor, dst: number, scalars: Tensor, normSlot: number,
  coeffs: Tensor, alpha?: { slot: number; row: number; secondOffset: number }): void {
  const n = work.size;
  rt.launch({
    shader: 'lanczos', entry: 'normalize_vector', bindings: { work, basisOut: basis, scalars, coeffs },
    needs: { work: n, basisOut: (dst + 1) * n, scalars: Math.max(normSlot, alpha?.slot ?? 0) + 1, coeffs: alpha ? alpha.secondOffset + alpha.row + 1 : 1 },
    uniforms: { n, dst, normSlot, alphaSlot: alpha?.slot ?? NO_SLOT, alphaRow: alpha?.row ?? 0, secondOffset: alpha?.secondOffset ?? 0 },
    workgroups: 1,
  });
}

/** out row v = sum_r coefficients[v * rows + r] basis row (first + r), for v < count. */
export function combineRows(rt: Runtime, basis: Tensor, first: number, rows: number, coefficients: Tensor, count: number, out: Tensor): void {
  const n = out.size / count;
  rt.launch({
    shader: 'lanczos', entry: 'combine', bindings: { basis, coeffs: coefficients, product: out },
    needs: { basis: (first + rows) * n, coeffs: count * rows, product: count * n },
    uniforms: { n, rows, src: first, count }, invocations: count * n,
  });
}

/** norms[v] = |products row v - thetas[v] vectors row v| for v < count. */
export function residualNorms(rt: Runtime, vectors: Tensor, products: Tensor, thetas: Tensor, norms: Tensor): void {
  const count = thetas.size;
  const n = vectors.size / count;
  rt.launch({
    shader: 'lanczos', entry: 'residual', bindings: { basis: vectors, product: products, coeffs: thetas, scalars: norms },
    needs: { basis: count * n, product: count * n, coeffs: count, scalars: count },
    uniforms: { n, count }, workgroups: count,
  });
}

/** CGS2: work is orthogonalised twice against basis rows [0, rows). */
function orthogonalize(rt: Runtime, basis: Tensor, work: Tensor, rows: number, coeffs: Tensor, secondOffset: number): void {
  for (const offset of [0, secondOffset]) {
    project(rt, basis, work, rows, coeffs, offset);
    subtract(rt, basis, work, rows, coeffs, offset);
  }
}

// Scalar slots: 0 holds the start vector's norm after deflation, 1 + 2j alpha_j, 2 + 2j beta_j.
const alphaSlot = (j: number) => 1 + 2 * j;

/** The lowest eigenpairs of the symmetric matrix `symmetric` [n, n] (f32, resident on the GPU). */
export async function lanczos(rt: Runtime, symmetric: Tensor, options: LanczosOptions = {}): Promise<LanczosResult> {
  if (symmetric.shape.length !== 2 || symmetric.shape[0] !== symmetric.shape[1]) throw new Error(`lanczos: the matrix must be square, got [${symmetric.shape.join(', ')}]`);
  const n = symmetric.shape[0];
  const deflated = options.deflate ? options.deflate.shape[0] : 0;
  if (options.deflate && (options.deflate.shape.length !== 2 || options.deflate.shape[1] !== n)) {
    throw new Error(`lanczos: deflate must be [d, ${n}], got [${options.deflate.shape.join(', ')}]`);
  }
  const space = n - deflated;
  if (space < 1) throw new Error(`lanczos: nothing is left of ${n} dimensions after deflating ${deflated}`);
  const maxSteps = Math.min(options.maxSteps ?? LANCZOS_DEFAULTS.maxSteps, space);
  const count = options.count ?? LANCZOS_DEFAULTS.count;
  const tolerance = options.tolerance ?? LANCZOS_DEFAULTS.tolerance;
  const checkEvery = options.checkEvery ?? LANCZOS_DEFAULTS.checkEvery;
  if (!(Number.isInteger(maxSteps) && maxSteps >= 1)) throw new Error(`lanczos: maxSteps must be a positive integer, got ${options.maxSteps}`);
  if (!(Number.isInteger(count) && count >= 1)) throw new Error(`lanczos: count must be a positive integer, got ${count}`);
  if (!(tolerance >= 0)) throw new Error(`lanczos: tolerance must be >= 0, got ${tolerance}`);
  if (!(Number.isInteger(checkEvery) && checkEvery >= 1)) throw new Error(`lanczos: checkEvery must be a positive integer, got ${checkEvery}`);
  if (options.start && options.start.length !== n) throw new Error(`lanczos: the start vector has ${options.start.length} entries, the matrix order is ${n}`);

  // Everything but the returned vectors is freed when the scope ends (on a throw too).
  return rt.scope(async () => {
    const rows = deflated + maxSteps + 1;
    const basis = Tensor.empty(rt, [rows, n]);
    const coeffs = Tensor.empty(rt, [2 * rows]);
    const scalars = Tensor.empty(rt, [1 + 2 * maxSteps]);
    const work = Tensor.upload(rt, options.start ? Float32Array.from(options.start) : uniformArray(n, options.seed ?? 0, options.stream ?? 0, -1, 1));
    if (deflated > 0) copy(options.deflate!, basis, deflated * n);
    orthogonalize(rt, basis, work, deflated, coeffs, rows);
    normalizeInto(rt, work, basis, deflated, scalars, 0, coeffs);

    const alpha: number[] = [];
    const beta: number[] = [];
    let steps = 0;
    let stop: { steps: number; converged: boolean } | null = null;
    while (!stop) {
      const end = Math.min(maxSteps, steps + checkEvery);
      for (let j = steps; j < end; j++) {
        const q = deflated + j;
        matvec(rt, symmetric, basis, q, work, 0);
        orthogonalize(rt, basis, work, q + 1, coeffs, rows);
        normalizeInto(rt, work, basis, q + 1, scalars, alphaSlot(j) + 1, coeffs, { slot: alphaSlot(j), row: q, secondOffset: rows });
      }
      const from = steps === 0 ? 0 : alphaSlot(steps);
      const read = new Float32Array(await rt.read(scalars.buffer, (alphaSlot(end) - from) * 4, from * 4));
      if (steps === 0 && !(read[0] > BREAKDOWN)) throw new Error('lanczos: the start vector lies in the deflated space');
      for (let j = steps; j < end; j++) {
        alpha.push(read[alphaSlot(j) - from]);
        beta.push(read[alphaSlot(j) + 1 - from]);
      }
      // Every prefix is tested, so the answer is that of the first converged step whatever checkEvery is.
      for (let m = steps + 1; m <= end && !stop; m++) stop = convergedAt(alpha, beta, m, count, tolerance, space);
      steps = end;
      if (!stop && steps === maxSteps) stop = { steps, converged: false };
    }
    const m = stop.steps;
    const tri = tridiagonalEigen(alpha.slice(0, m), beta.slice(0, m - 1), true);
    const wanted = Math.min(count, m);
    const coefficients = new Float32Array(wanted * m);
    coefficients.set(tri.vectors!.subarray(0, wanted * m));
    const coefficientTensor = Tensor.upload(rt, coefficients);
    const vectors = Tensor.empty(rt, [wanted, n]);
    combineRows(rt, basis, deflated, m, coefficientTensor, wanted, vectors);
    const products = Tensor.empty(rt, [wanted, n]);
    for (let v = 0; v < wanted; v++) matvec(rt, symmetric, vectors, v, products, v);
    const values = Array.from(tri.values.subarray(0, wanted));
    const thetas = Tensor.upload(rt, Float32Array.from(values));
    const norms = Tensor.empty(rt, [wanted]);
    residualNorms(rt, vectors, products, thetas, norms);
    const residuals = Array.from(await norms.download());
    const normEstimate = Math.max(Math.abs(tri.values[0]), Math.abs(tri.values[m - 1]));
    return {
      values, vectors, residuals,
      estimates: values.map((_, i) => Math.abs(beta[m - 1] * tri.lastRow[i])),
      ritzValues: Array.from(tri.values),
      iterations: m, normEstimate, converged: stop.converged,
    };
  });
}

/**
 * Whether the first m steps suffice: every wanted Ritz pair's residual |beta_{m-1} s_{m-1,i}| is within
 * tolerance * |T|, the space is exhausted (m = space), or the Krylov space became invariant (beta = 0).
 */
function convergedAt(alpha: number[], beta: number[], m: number, count: number, tolerance: number, space: number): { steps: number; converged: boolean } | null {
  const last = beta[m - 1];
  if (m === space || !(last > BREAKDOWN)) return { steps: m, converged: true };
  if (m < count) return null;
  const tri = tridiagonalEigen(alpha.slice(0, m), beta.slice(0, m - 1), false);
  const norm = Math.max(Math.abs(tri.values[0]), Math.abs(tri.values[m - 1]));
  for (let i = 0; i < count; i++) if (Math.abs(last * tri.lastRow[i]) > tolerance * norm) return null;
  return { steps: m, converged: true };
}
