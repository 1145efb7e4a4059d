// Validation cases of the Lanczos kernels (shaders/lanczos.wgsl, src/linalg/lanczos.ts) against their float64
// references (src/reference/saln.ts), and of the whole solver against dense Jacobi.
// Tolerances |got - ref| <= atol + rtol |ref| + bound_i come from a forward error analysis with unit roundoff
// u = 2^-24 (every f32 + - * and fma correctly rounded) and WGSL's accuracy rules: x / y within 2.5 ULP,
// inverseSqrt within 2 ULP, sqrt inherited from 1 / inverseSqrt (4.5 ULP), exp within 3 + 2|x| ULP, where an
// ULP is at most 2u relative. Higham's gamma_k = k u / (1 - k u) bounds k accumulated roundings: a sum whose
// terms each pass through at most L roundings (a kernel's sequential share plus its tree levels) is within
// gamma_L * sum|terms| of the exact sum.
import { Tensor } from '../tensor.ts';
import type { Runtime } from '../gpu/runtime.ts';
import { define, HALF_ULP as U, inputs, joinOutputs, take, withinBounds, type CaseOutput, type ValidationCase } from './define.ts';
import { combineRows, lanczos, matvec, normalizeInto, project, residualNorms, subtract } from '../linalg/lanczos.ts';
import {
  combineReference, laplacianReference, matvecReference, projectReference, residualReference, subtractReference, deflatedEigen,
} from '../reference/saln.ts';
import { randomGraph, symmetricInputs } from './graph.ts';

const higham = (k: number) => (k * U) / (1 - k * U);

// ---- lanczos.wgsl -----------------------------------------------------------------------------------------

function matvecCases(): ValidationCase[] {
  // Sizes around the 64-wide tile (a partial last tile, one element past it), and src/dst rows other than 0.
  const shapes: [number, number, number][] = [[1, 0, 0], [3, 1, 2], [7, 0, 1], [64, 2, 0], [65, 0, 0], [130, 1, 1], [512, 0, 0]];
  return shapes.map(([n, src, dst]) => define('lanczos.matvec', `n=${n} src ${src} dst ${dst}`, async (rt) => {
    const a = symmetricInputs(n);
    const basis = inputs((src + 1) * n);
    const ta = Tensor.upload(rt, a, [n, n]), tb = Tensor.upload(rt, basis, [src + 1, n]);
    const product = Tensor.empty(rt, [dst + 1, n]);
    matvec(rt, ta, tb, src, product, dst);
    const got = Array.from(await take(product)).slice(dst * n);
    const x = basis.subarray(src * n);
    // A sequential fma chain over n terms: |err_i| <= gamma_n sum_k |a_ki x_k|.
    const bound = Float64Array.from({ length: n }, (_, i) => {
      let s = 0;
      for (let k = 0; k < n; k++) s += Math.abs(a[k * n + i] * x[k]);
      return higham(n) * s;
    });
    return withinBounds(got, matvecReference(a, x, n), bound);
  }));
}

const VECTOR_SHAPES: [number, number][] = [[1, 1], [7, 2], [64, 5], [129, 9], [512, 33], [1000, 3]];

function projectCases(): ValidationCase[] {
  return VECTOR_SHAPES.map(([n, rows]) => define('lanczos.project', `n=${n} rows ${rows}`, async (rt) => {
    const basis = inputs(rows * n), w = inputs(n);
    const tb = Tensor.upload(rt, basis, [rows, n]), tw = Tensor.upload(rt, w);
    const coeffs = Tensor.empty(rt, [rows + 3]);
    project(rt, tb, tw, rows, coeffs, 3);
    const got = Array.from(await take(coeffs)).slice(3);
    // Each product passes through its lane's fma chain (ceil(n/64)) and 6 tree levels.
    const bound = Float64Array.from({ length: rows }, (_, r) => {
      let s = 0;
      for (let i = 0; i < n; i++) s += Math.abs(basis[r * n + i] * w[i]);
      return higham(Math.ceil(n / 64) + 6) * s;
    });
    return withinBounds(got, projectReference(basis, w, rows, n), bound);
  }));
}

function subtractCases(): ValidationCase[] {
  return VECTOR_SHAPES.map(([n, rows]) => define('lanczos.subtract', `n=${n} rows ${rows}`, async (rt) => {
    const basis = inputs(rows * n), w = inputs(n), c = inputs(rows + 2);
    const tb = Tensor.upload(rt, basis, [rows, n]), tw = Tensor.upload(rt, w), tc = Tensor.upload(rt, c);
    subtract(rt, tb, tw, rows, tc, 2);
    const got = await take(tw);
    const coefficients = c.subarray(2);
    // An fma chain over the rows, then one subtraction: gamma_(rows + 1) (|w_i| + sum_r |c_r q_ri|).
    const bound = Float64Array.from({ length: n }, (_, i) => {
      let s = Math.abs(w[i]);
      for (let r = 0; r < rows; r++) s += Math.abs(coefficients[r] * basis[r * n + i]);
      return higham(rows + 1) * s;
    });
    return withinBounds(got, subtractReference(basis, w, coefficients, rows, n), bound);
  }));
}

function normalizeCases(): ValidationCase[] {
  const sizes: [number, boolean?][] = [[1], [5], [64], [257], [512], [1000], [9, true]];
  return sizes.map(([n, zero]) => define('lanczos.normalize_vector', `n=${n}${zero ? ' zero vector' : ''}`, async (rt) => {
    const w = zero ? new Float32Array(n) : inputs(n);
    const c = inputs(8);
    const tw = Tensor.upload(rt, w), tc = Tensor.upload(rt, c);
    const basis = Tensor.empty(rt, [3, n]);
    const scalars = Tensor.empty(rt, [4]);
    normalizeInto(rt, tw, basis, 2, scalars, 1, tc, { slot: 3, row: 1, secondOffset: 4 });
    const row = Array.from(await take(basis)).slice(2 * n);
    const slots = await take(scalars);
    let sum = 0;
    for (const x of w) sum += x * x;
    const norm = Math.sqrt(sum);
    // The sum of squares within gamma_(ceil(n/256) + 9) (fma chains of ceil(n/256), 8 tree levels, the square),
    // halved by sqrt's root, plus sqrt's 4.5 ULP; the row adds 1/norm's 2.5 ULP and a product.
    const normRel = higham(Math.ceil(n / 256) + 9) / 2 + 9 * U;
    return joinOutputs([
      { got: row, ref: Float64Array.from(w, (x) => (norm > 0 ? x / norm : 0)), tolerance: { atol: 0, rtol: normRel + 5 * U + U } },
      { got: [slots[1]], ref: [norm], tolerance: { atol: 0, rtol: normRel } },
      // alpha = first-pass + second-pass coefficient: one rounding.
      { got: [slots[3]], ref: [c[1] + c[5]], tolerance: { atol: 0, rtol: U } },
    ]);
  }));
}

function combineCases(): ValidationCase[] {
  const shapes: [number, number, number, number][] = [[1, 1, 1, 0], [7, 3, 2, 1], [64, 17, 1, 2], [200, 4, 3, 0], [513, 9, 2, 1]];
  return shapes.map(([n, rows, count, first]) => define('lanczos.combine', `n=${n} rows ${rows} count ${count} first ${first}`, async (rt) => {
    const basis = inputs((first + rows) * n), c = inputs(count * rows);
    const tb = Tensor.upload(rt, basis, [first + rows, n]), tc = Tensor.upload(rt, c);
    const out = Tensor.empty(rt, [count, n]);
    combineRows(rt, tb, first, rows, tc, count, out);
    const got = await take(out);
    const bound = Float64Array.from({ length: count * n }, (_, index) => {
      const v = Math.floor(index / n), i = index % n;
      let s = 0;
      for (let r = 0; r < rows; r++) s += Math.abs(c[v * rows + r] * basis[(first + r) * n + i]);
      return higham(rows) * s;
    });
    return withinBounds(got, combineReference(basis, first, c, rows, count, n), bound);
  }));
}

function residualCases(): ValidationCase[] {
  const shapes: [number, number][] = [[1, 1], [7, 2], [64, 1], [130, 3], [512, 2]];
  return shapes.map(([n, count]) => define('lanczos.residual', `n=${n} count ${count}`, async (rt) => {
    const y = inputs(count * n), p = inputs(count * n), thetas = inputs(count, -3, 3);
    const ty = Tensor.upload(rt, y, [count, n]), tp = Tensor.upload(rt, p, [count, n]), tt = Tensor.upload(rt, thetas);
    const norms = Tensor.empty(rt, [count]);
    residualNorms(rt, ty, tp, tt, norms);
    const got = await take(norms);
    // Each p_i - theta y_i within 2u (|p_i| + |theta y_i|) (a product and a subtraction, or one fma), so the norm of
    // the computed vector is off by at most the norm of those bounds; then the sum of squares within
    // gamma_(ceil(n/64) + 7), halved by the root, and sqrt's 4.5 ULP.
    const bound = Float64Array.from(thetas, (theta, v) => {
      let s = 0;
      for (let i = 0; i < n; i++) s += (2 * U * (Math.abs(p[v * n + i]) + Math.abs(theta * y[v * n + i]))) ** 2;
      return Math.sqrt(s);
    });
    return { got, ref: residualReference(y, p, thetas, n), tolerance: { atol: 0, rtol: higham(Math.ceil(n / 64) + 7) / 2 + 9 * U, bound } };
  }));
}
// ---- the solver ------------------------------------------------------------------------------------------

/** The Lanczos stop the solver cases use: every wanted Ritz pair's estimated residual within this times |T|. */
const SOLVER_TOLERANCE = 1e-6;

/**
 * The allowance of the solver cases, fixed by the matrix alone (never by the answer under test, which would widen
 * its own bound): the solver stops at an estimated residual of SOLVER_TOLERANCE |T| <= SOLVER_TOLERANCE |A|; in f32
 * the Ritz vector's true residual adds the rounding of its matvecs and of the basis combination, each a sum of n
 * or m <= n terms (gamma_n |A|), and of the basis' lost orthogonality after CGS2 (a few u per step): 8 n u |A|
 * covers them. Observed on these cases: residuals up to 9.4e-7 |A|, eigenvalue errors up to 7e-8 |A|, against
 * the bound's 1e-5 |A| (n = 5) to 3.2e-5 |A| (n = 64); a missed or wrong eigenvalue is off by a gap, 1e-2 |A|
 * or more here (the undeflated start vector of issue 16: 170).
 */
export function solverRadius(n: number, normA: number): number {
  return (SOLVER_TOLERANCE + 8 * n * U) * normA;
}

/**
 * The lowest `count` eigenpairs by GPU Lanczos against Jacobi on the same f32 matrix (in float64), within
 * solverRadius: each Ritz vector's residual |A y - theta y| (recomputed in float64 from the download), each
 * Ritz value against the i-th eigenvalue (some eigenvalue lies within the residual of theta; the i-th, when
 * Lanczos found the lowest in order), and each vector against Jacobi's up to sign by Davis-Kahan:
 * sin(y, u_i) <= r / (gap_i - r), so entries differ by at most sqrt 2 sin + f32 storage.
 */
export async function lanczosAgainstJacobi(rt: Runtime, a: Float32Array, n: number, count: number, deflate?: Float64Array): Promise<CaseOutput & { residuals: number[]; iterations: number }> {
  const ta = Tensor.upload(rt, a, [n, n]);
  const td = deflate ? Tensor.upload(rt, Float32Array.from(deflate), [1, n]) : undefined;
  const result = await lanczos(rt, ta, { count, maxSteps: n, tolerance: SOLVER_TOLERANCE, deflate: td, seed: 5 });
  const vectors = await result.vectors.download();
  const eigen = deflatedEigen(a, deflate ?? new Float64Array(n), n);
  const spectrum = eigen.values;
  const normA = Math.max(Math.abs(spectrum[0]), Math.abs(spectrum[spectrum.length - 1]));
  const radius = solverRadius(n, normA);
  // Against L + c u u^T, whose eigenvalues below c are those of L on u's complement.
  const m = eigen.shifted;
  const parts: CaseOutput[] = [];
  const residuals: number[] = [];
  for (let v = 0; v < count; v++) {
    const raw = vectors.subarray(v * n, (v + 1) * n);
    const length = Math.hypot(...raw);
    const y = Float64Array.from(raw, (x) => x / length);
    const theta = result.values[v];
    let r = 0;
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += m[i * n + k] * y[k];
      r += (s - theta * y[i]) ** 2;
    }
    residuals.push(Math.sqrt(r));
    const u = eigen.vectors.subarray(v * n, (v + 1) * n);
    const sign = y.reduce((acc, x, i) => acc + x * u[i], 0) < 0 ? -1 : 1;
    let gap = Infinity;
    for (let j = 0; j < spectrum.length; j++) if (j !== v) gap = Math.min(gap, Math.abs(spectrum[j] - spectrum[v]));
    const sine = gap > 2 * radius ? Math.min(1, radius / (gap - radius)) : 1;
    parts.push({ got: [Math.sqrt(r)], ref: [0], tolerance: { atol: radius, rtol: 0 } });
    parts.push({ got: [theta], ref: [spectrum[v]], tolerance: { atol: radius, rtol: 0 } });
    parts.push({ got: Float64Array.from(y, (x) => sign * x), ref: u, tolerance: { atol: Math.SQRT2 * sine + 2 ** -23, rtol: 0 } });
  }
  return { ...joinOutputs(parts), residuals, iterations: result.iterations };
}

/** A graph Laplacian D - W of a random graph and its null vector. */
function laplacianInputs(n: number): { laplacian: Float32Array; nullVector: Float64Array } {
  const { weights, degrees } = randomGraph(n);
  return { laplacian: Float32Array.from(laplacianReference(weights, degrees, n, 'unnormalized')), nullVector: new Float64Array(n).fill(1 / Math.sqrt(n)) };
}

function solverCases(): ValidationCase[] {
  const cases: [string, number, number, boolean][] = [['random', 5, 2, false], ['random', 16, 3, false], ['random', 33, 3, false], ['laplacian', 24, 2, true], ['laplacian', 64, 3, true]];
  return cases.map(([kind, n, count, isLaplacian]) => define('lanczos.lowest', `${kind} n=${n} lowest ${count}${isLaplacian ? ' null vector deflated' : ''}`, async (rt) => {
    if (!isLaplacian) return lanczosAgainstJacobi(rt, symmetricInputs(n), n, count);
    const { laplacian, nullVector } = laplacianInputs(n);
    return lanczosAgainstJacobi(rt, laplacian, n, count, nullVector);
  }));
}

export function lanczosCases(): ValidationCase[] {
  return [...matvecCases(), ...projectCases(), ...subtractCases(), ...normalizeCases(), ...combineCases(), ...residualCases(), ...solverCases()];
}
