// Validation cases of the graph kernels (shaders/graph.wgsl, src/ops/graph.ts) against their float64 references
// (src/reference/saln.ts, src/reference/knn.ts).
// Tolerances |got - ref| <= atol + rtol |ref| + bound_i come from a forward error analysis with unit roundoff
// u = 2^-24 (every f32 + - * and fma correctly rounded) and WGSL's accuracy rules: x / y within 2.5 ULP,
// inverseSqrt within 2 ULP, sqrt inherited from 1 / inverseSqrt (4.5 ULP), exp within 3 + 2|x| ULP, where an
// ULP is at most 2u relative. Higham's gamma_k = k u / (1 - k u) bounds k accumulated roundings: a sum whose
// terms each pass through at most L roundings (a kernel's sequential share plus its tree levels) is within
// gamma_L * sum|terms| of the exact sum.
import { Tensor } from '../tensor.ts';
import { define, HALF_ULP as U, inputs, joinOutputs, take, type ValidationCase } from './define.ts';
import { knnReference } from '../reference/knn.ts';
import { affinityAndDegrees, knnSparsify, laplacianInPlace, laplacianNullVector, normalizeRows, type Affinity, type LaplacianKind } from '../ops/graph.ts';
import { affinityReference, laplacianReference, normalizeRowsReference, nullVectorReference } from '../reference/saln.ts';

const EPS = 2 * U;
const higham = (k: number) => (k * U) / (1 - k * U);

/** A symmetric n x n matrix with entries in [low, high) (the upper triangle mirrored). */
export function symmetricInputs(n: number, low = -1, high = 1): Float32Array {
  const raw = inputs(n * n, low, high);
  const out = new Float32Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) out[i * n + j] = raw[Math.min(i, j) * n + Math.max(i, j)];
  return out;
}

// ---- graph.wgsl -----------------------------------------------------------------------------------------------

interface RowsCase { rows: number; cols: number; zeroRow?: number; scaleRow?: [number, number]; }

// A 1x1, odd and prime shapes, F = 64 and 512 (ResNet-18's feature width), a zero row (stays zero), rows
// scaled by 1e20 and 1e-30 (their squares overflow or underflow f32 without the 1/max scaling).
const ROWS_CASES: RowsCase[] = [
  { rows: 1, cols: 1 }, { rows: 3, cols: 5 }, { rows: 7, cols: 7, zeroRow: 3 }, { rows: 17, cols: 64 },
  { rows: 64, cols: 512, zeroRow: 0 }, { rows: 5, cols: 130, scaleRow: [1, 1e20] }, { rows: 6, cols: 33, scaleRow: [4, 1e-30] },
];

function rowsCases(): ValidationCase[] {
  return ROWS_CASES.map((c) => define('graph.normalize_rows', `${c.rows}x${c.cols}${c.zeroRow !== undefined ? ` zero row ${c.zeroRow}` : ''}${c.scaleRow ? ` row ${c.scaleRow[0]} x${c.scaleRow[1]}` : ''}`, async (rt) => {
    const x = inputs(c.rows * c.cols, -2, 2);
    if (c.zeroRow !== undefined) x.fill(0, c.zeroRow * c.cols, (c.zeroRow + 1) * c.cols);
    if (c.scaleRow) for (let j = 0; j < c.cols; j++) x[c.scaleRow[0] * c.cols + j] *= c.scaleRow[1];
    const t = Tensor.upload(rt, x, [c.rows, c.cols]);
    const got = await take(normalizeRows(t));
    // The scale 1/max|x| (2.5 ULP) is common to every term and cancels; what remains: the sum of squares within
    // gamma_(F+3) (squares, the scaled terms, at most F additions), halved by the square root, inverseSqrt's
    // 2 ULP and two products: rel <= (F + 3) u / 2 + 4u + 2u, to first order.
    return { got, ref: normalizeRowsReference(x, c.rows, c.cols), tolerance: { atol: 0, rtol: higham(c.cols + 3) / 2 + 6.01 * U } };
  }));
}

const AFFINITY_SIZES = [1, 2, 5, 7, 64, 129];

function affinityTolerance(affinity: Affinity, temperature: number): { atol: number; rtol: number } {
  // s = (S_ij + S_ji) / 2 rounds once (u |s|, the halving is exact). clip passes it through; shift rounds s + 1
  // and halves: |err| <= (u |s| + u |s + 1|) / 2 <= 1.5u for |s| <= 1. exp: 1 - s is within u (|1 - s| + |s|)
  // <= 3u absolutely, the division by t adds 2.5 ULP, so x = -(1 - s) / t is within 3u / t + 5u |x|, which
  // becomes relative error in exp(x), plus exp's own 3 + 2|x| ULP, with |x| <= 2 / t.
  if (affinity === 'clip') return { atol: 0, rtol: U };
  if (affinity === 'shift') return { atol: 1.5 * U, rtol: 0 };
  const x = 2 / temperature;
  return { atol: 0, rtol: 3 * U / temperature + 5 * U * x + (3 + 2 * x) * EPS };
}

function affinityCases(): ValidationCase[] {
  const cases: ValidationCase[] = [];
  for (const affinity of ['clip', 'shift', 'exp'] as Affinity[]) {
    for (const n of AFFINITY_SIZES) {
      const temperature = n === 7 ? 0.1 : 0.5;
      cases.push(define(`graph.affinity.${affinity}`, `n=${n}${affinity === 'exp' ? ` t=${temperature}` : ''}`, async (rt) => {
        // Not symmetric on purpose: the kernel symmetrises; entries in [-1, 1] like cosine similarities.
        const s = inputs(n * n, -1, 1);
        const t = Tensor.upload(rt, s, [n, n]);
        const { weights, degrees } = affinityAndDegrees(t, affinity, temperature);
        const ref = affinityReference(s, n, affinity, temperature);
        const tol = affinityTolerance(affinity, temperature);
        // Degrees sum n non-negative weights, each within its own tolerance (at most atol + rtol w), through at most
        // ceil(n / 64) + 6 additions.
        const chain = Math.ceil(n / 64) + 6;
        return joinOutputs([
          { got: await take(weights), ref: ref.weights, tolerance: tol },
          { got: await take(degrees), ref: ref.degrees, tolerance: { atol: n * tol.atol * (1 + higham(chain)), rtol: tol.rtol + higham(chain) * (1 + tol.rtol) } },
        ]);
      }));
    }
  }
  return cases;
}

/** A random symmetric non-negative affinity with a zero diagonal (vertex `isolated` without edges) and its f32 degrees. */
export function randomGraph(n: number, isolated?: number): { weights: Float32Array; degrees: Float32Array } {
  const weights = symmetricInputs(n, 0, 1);
  for (let i = 0; i < n; i++) {
    weights[i * n + i] = 0;
    if (i === isolated) for (let j = 0; j < n; j++) { weights[i * n + j] = 0; weights[j * n + i] = 0; }
  }
  const degrees = new Float32Array(n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) degrees[i] += weights[i * n + j];
  return { weights, degrees };
}

const GRAPH_SIZES: [number, number?][] = [[1], [3], [7, 2], [64], [130, 129], [5, 0]];

function laplacianCases(): ValidationCase[] {
  return (['unnormalized', 'normalized'] as LaplacianKind[]).flatMap((kind) => GRAPH_SIZES.map(([n, isolated]) =>
    define(`graph.laplacian.${kind}`, `n=${n}${isolated !== undefined ? ` isolated ${isolated}` : ''}`, async (rt) => {
      const { weights, degrees } = randomGraph(n, isolated);
      const w = Tensor.upload(rt, weights, [n, n]), d = Tensor.upload(rt, degrees);
      const got = await take(laplacianInPlace(w, d, kind));
      // D - W: a copy and a negation, exact. L_sym off the diagonal: -w r_i r_j with each r = inverseSqrt(d)
      // within 2 ULP and two products: 4 ULP + 2u = 10u relative; its diagonal is exactly 1 (W_ii = 0).
      return { got, ref: laplacianReference(weights, degrees, n, kind), tolerance: { atol: 0, rtol: kind === 'unnormalized' ? 0 : 10 * U } };
    })));
}

function nullVectorCases(): ValidationCase[] {
  const sizes: [number, boolean?][] = [[1], [3], [7], [64], [300], [513], [9, true]];
  return (['unnormalized', 'normalized'] as LaplacianKind[]).flatMap((kind) => sizes.map(([n, zeroDegrees]) =>
    define(`graph.null_vector.${kind}`, `n=${n}${zeroDegrees ? ' all degrees 0' : ''}`, async (rt) => {
      const degrees = zeroDegrees ? new Float32Array(n) : inputs(n, 0, 50);
      const d = Tensor.upload(rt, degrees);
      const got = await take(laplacianNullVector(d, kind));
      // 1/sqrt(n): inverseSqrt's 2 ULP = 4u. sqrt(d_i) inverseSqrt(sum d): the sum of n non-negative terms within
      // gamma_(ceil(n/256) + 8), halved by the root; sqrt 4.5 ULP, inverseSqrt 2 ULP, one product.
      const rtol = kind === 'unnormalized' ? 4 * U : higham(Math.ceil(n / 256) + 8) / 2 + 9 * U + 4 * U + U;
      return { got, ref: nullVectorReference(degrees, kind), tolerance: { atol: 0, rtol } };
    })));
}

// ---- graph.wgsl: the k-nearest-neighbour graph ----------------------------------------------------------------

interface KnnCase { n: number; neighbours: number; kind: 'random' | 'ties' | 'equal' | 'asymmetric' | 'zero rows' }

// Edge sizes: n = 1 and 2, K = 1, K = B - 1 and K > B - 1 (every edge kept), rows past one 64-wide tile; ties:
// weights on a grid of 4 values, all weights equal (the threshold search lands on the tie and the lowest
// columns win), rows of zeros; an asymmetric W (the max symmetrisation reads the other end's weight).
const KNN_CASES: KnnCase[] = [
  { n: 1, neighbours: 1, kind: 'random' }, { n: 2, neighbours: 1, kind: 'random' }, { n: 7, neighbours: 3, kind: 'ties' },
  { n: 9, neighbours: 4, kind: 'equal' }, { n: 12, neighbours: 2, kind: 'zero rows' }, { n: 64, neighbours: 10, kind: 'random' },
  { n: 70, neighbours: 5, kind: 'ties' }, { n: 33, neighbours: 6, kind: 'asymmetric' }, { n: 130, neighbours: 129, kind: 'random' },
  { n: 65, neighbours: 200, kind: 'ties' },
];

function knnInputs(c: KnnCase): Float32Array {
  if (c.kind === 'asymmetric') {
    const w = inputs(c.n * c.n, 0, 1);
    for (let i = 0; i < c.n; i++) w[i * c.n + i] = 0;
    return w;
  }
  const { weights } = randomGraph(c.n);
  if (c.kind === 'ties') for (let i = 0; i < weights.length; i++) weights[i] = Math.round(weights[i] * 3) / 3;
  if (c.kind === 'equal') for (let i = 0; i < weights.length; i++) weights[i] = Math.floor(i / c.n) === i % c.n ? 0 : 0.5;
  if (c.kind === 'zero rows') {
    for (const r of [0, 5]) for (let j = 0; j < c.n; j++) { weights[r * c.n + j] = 0; weights[j * c.n + r] = 0; }
  }
  return weights;
}

function knnCases(): ValidationCase[] {
  return KNN_CASES.map((c) => define('graph.knn', `n=${c.n} K=${c.neighbours} ${c.kind}`, async (rt) => {
    const w = knnInputs(c);
    const t = Tensor.upload(rt, w, [c.n, c.n]);
    const sparse = knnSparsify(t, c.neighbours);
    const ref = knnReference(w, c.n, c.neighbours);
    // The weights are selected and copied, never computed: exact. The degrees sum n non-negative f32 terms through
    // a lane's chain of ceil(n / 64) additions and 6 tree levels.
    return joinOutputs([
      { got: await take(sparse.weights), ref: ref.weights, tolerance: { atol: 0, rtol: 0 } },
      { got: await take(sparse.degrees), ref: ref.degrees, tolerance: { atol: 0, rtol: higham(Math.ceil(c.n / 64) + 6) } },
    ]);
  }));
}

/** The graph kernels' cases, in the order `saln validate` prints them (k-nearest neighbours last, after Lanczos). */
export function graphCases(): ValidationCase[] {
  return [...rowsCases(), ...affinityCases(), ...laplacianCases(), ...nullVectorCases()];
}

export { knnCases };
