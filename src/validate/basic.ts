// Validation cases of the basic kernels: each kernel against its float64 CPU reference on several shapes, with a stated tolerance
// |got - ref| <= atol + rtol * |ref|. `saln validate` runs them on the user's adapter; kernels-test asserts them.
import { Tensor } from '../tensor.ts';
import { uniformArray, normalArray } from '../rng.ts';
import { F32_EPS, type Tolerance } from '../reference/compare.ts';
import { define, HALF_ULP, inputs, take, type ValidationCase } from './define.ts';
import { matmul, MATMUL_VARIANTS, type MatmulVariant } from '../ops/matmul.ts';
import { matmulReference } from '../reference/matmul.ts';
import { binary, scaleAdd, unary, BINARY_OPS, UNARY_OPS, type BinaryOp, type UnaryOp } from '../ops/elementwise.ts';
import { binaryArray, scaleAddArray, unaryArray } from '../reference/elementwise.ts';
import { reduce, type ReduceOp } from '../ops/reduce.ts';
import { reduceReference } from '../reference/reduce.ts';
import { transpose } from '../ops/transpose.ts';
import { transposeReference } from '../reference/transpose.ts';
import { copy, fill, gatherRows } from '../ops/fill.ts';
import { randomNormal, randomUniform } from '../ops/random.ts';

const SIZES = [1, 7, 64, 257, 4099, 65537];

/** gather_rows: a selector's kept rows out of a super-batch (exact copies). */
function gatherCases(): ValidationCase[] {
  const shapes: [number, number, number[]][] = [[1, 1, [0]], [5, 3, [4, 0, 2]], [7, 13, [6, 6, 1]], [64, 784, [63, 0, 31, 32, 1]], [37, 1, Array.from({ length: 37 }, (_, i) => 36 - i)]];
  return shapes.map(([rows, rowLen, picked]) => define('gather_rows', `${rows}x${rowLen} pick ${picked.length}`, async (rt) => {
    const x = inputs(rows * rowLen);
    const src = Tensor.upload(rt, x, [rows, rowLen]);
    const index = Tensor.upload(rt, picked, [picked.length], 'u32');
    const got = await take(gatherRows(src, index));
    const ref = picked.flatMap((r) => Array.from(x.subarray(r * rowLen, (r + 1) * rowLen)));
    return { got, ref, tolerance: { atol: 0, rtol: 0 } };
  }));
}

function fillCases(): ValidationCase[] {
  return SIZES.flatMap((n) => [
    define('fill', `n=${n}`, async (rt) => ({ got: await take(fill(Tensor.empty(rt, [n]), -2.5)), ref: new Float64Array(n).fill(-2.5), tolerance: { atol: 0, rtol: 0 } })),
    define('copy', `n=${n}`, async (rt) => {
      const x = inputs(n);
      const src = Tensor.upload(rt, x);
      const got = await take(copy(src, Tensor.empty(rt, [n])));
      return { got, ref: x, tolerance: { atol: 0, rtol: 0 } };
    }),
  ]);
}

// WGSL's accuracy bounds (spec section "Floating Point Accuracy"): correctly rounded + - * and max/min/abs/neg;
// x / y within 2.5 ULP; sqrt within 2.5 ULP (computed as 1/inverseSqrt); exp within 3 + 2|x| ULP;
// log within 3 ULP outside [0.5, 2] and 2^-21 absolute inside.
const UNARY_TOLERANCE: Record<UnaryOp, Tolerance> = {
  relu: { atol: 0, rtol: 0 }, neg: { atol: 0, rtol: 0 }, abs: { atol: 0, rtol: 0 }, square: { atol: 0, rtol: HALF_ULP },
  sqrt: { atol: 0, rtol: 2.5 * F32_EPS }, exp: { atol: 0, rtol: (3 + 2 * 4) * F32_EPS }, log: { atol: 2 ** -21, rtol: 3 * F32_EPS },
};
const BINARY_TOLERANCE: Record<BinaryOp, Tolerance> = {
  add: { atol: 0, rtol: HALF_ULP }, sub: { atol: 0, rtol: HALF_ULP }, mul: { atol: 0, rtol: HALF_ULP },
  div: { atol: 0, rtol: 2.5 * F32_EPS }, max: { atol: 0, rtol: 0 }, min: { atol: 0, rtol: 0 },
};

function elementwiseCases(): ValidationCase[] {
  const cases: ValidationCase[] = [];
  for (const op of Object.keys(UNARY_OPS) as UnaryOp[]) {
    for (const n of [1, 5, 256, 1031, 70001]) {
      const positive = op === 'log' || op === 'sqrt';
      cases.push(define(`unary.${op}`, `n=${n}`, async (rt) => {
        const x = positive ? inputs(n, 0.01, 4) : inputs(n, -4, 4);
        const t = Tensor.upload(rt, x);
        const got = await take(unary(op, t));
        return { got, ref: unaryArray(op, x), tolerance: UNARY_TOLERANCE[op] };
      }));
    }
  }
  cases.push(define('unary.relu', 'in place n=1001', async (rt) => {
    const x = inputs(1001);
    return { got: await take(unary('relu', Tensor.upload(rt, x), { inPlace: true })), ref: unaryArray('relu', x), tolerance: { atol: 0, rtol: 0 } };
  }));
  const shapes: [number[], number[]][] = [[[1], [1]], [[7], [7]], [[3, 5], [5]], [[4, 1, 6], [1, 3, 1]], [[2, 3, 4, 5], [3, 1, 5]], [[129, 17], [129, 1]], [[1, 1, 1, 1, 2, 3, 1], [5, 1, 1, 1]]];
  for (const op of Object.keys(BINARY_OPS) as BinaryOp[]) {
    for (const [as, bs] of shapes) {
      cases.push(define(`binary.${op}`, `[${as}] ${op} [${bs}]`, async (rt) => {
        const an = as.reduce((p, d) => p * d, 1), bn = bs.reduce((p, d) => p * d, 1);
        const a = inputs(an, -2, 2);
        // Divisors kept away from zero: the relative bound is what is checked, not 1/0.
        const b = op === 'div' ? inputs(bn, 0.5, 2) : inputs(bn, -2, 2);
        const ta = Tensor.upload(rt, a, as), tb = Tensor.upload(rt, b, bs);
        const got = await take(binary(op, ta, tb));
        return { got, ref: binaryArray(op, a, as, b, bs).data, tolerance: BINARY_TOLERANCE[op] };
      }));
    }
  }
  for (const n of [1, 3, 1000, 4099, 65541]) {
    cases.push(define('scale_add', `n=${n}`, async (rt) => {
      const a = inputs(n), b = inputs(n);
      const ta = Tensor.upload(rt, a), tb = Tensor.upload(rt, b);
      const got = await take(scaleAdd(ta, tb, 0.75, -1.5));
      // Two roundings of products and one of the sum, each <= half an ULP of a value <= 2.25 in magnitude.
      return { got, ref: scaleAddArray(a, b, 0.75, -1.5), tolerance: { atol: 3 * HALF_ULP * 2.25, rtol: 0 } };
    }));
  }
  return cases;
}

function reduceCases(): ValidationCase[] {
  const cases: ValidationCase[] = [];
  const shapes: [number[], number][] = [[[1], 0], [[7], 0], [[3, 5], 1], [[3, 5], 0], [[4, 129, 3], 1], [[2, 1000], -1], [[13, 4097], 1], [[65, 17, 31], 0]];
  for (const op of ['sum', 'mean', 'max', 'argmax'] as ReduceOp[]) {
    for (const [shape, axis] of shapes) {
      cases.push(define(`reduce.${op}`, `[${shape}] axis ${axis}`, async (rt) => {
        const n = shape.reduce((p, d) => p * d, 1);
        const x = inputs(n);
        const t = Tensor.upload(rt, x, shape);
        const got = await take(reduce(op, t, axis));
        const len = shape[axis < 0 ? axis + shape.length : axis];
        // Sums: each invocation adds a strided share sequentially, then a 64-way tree (or, strided, one
        // sequential walk): worst-case rounding is (terms added in sequence) * eps * sum|x| <= len * eps * len.
        const sumBound = len * F32_EPS * len;
        const tolerance = op === 'sum' ? { atol: sumBound, rtol: 0 } : op === 'mean' ? { atol: sumBound / len + HALF_ULP, rtol: 0 } : { atol: 0, rtol: 0 };
        return { got, ref: reduceReference(op, x, shape, axis), tolerance };
      }));
    }
  }
  // The bound above is a worst case that grows as len^2 (2.0 at len 4097, where a dropped element passes):
  // integers in [-3, 3] sum exactly in f32 in any order (|sum| <= 3 * 4097 < 2^24), so any error is a bug.
  for (const [shape, axis] of [[[13, 4097], 1], [[2, 1000], -1], [[65, 17, 31], 0], [[4, 129, 3], 1]] as [number[], number][]) {
    cases.push(define('reduce.sum', `[${shape}] axis ${axis} exact ints`, async (rt) => {
      const x = exactInts(shape.reduce((p, d) => p * d, 1));
      const t = Tensor.upload(rt, x, shape);
      const got = await take(reduce('sum', t, axis));
      return { got, ref: reduceReference('sum', x, shape, axis), tolerance: { atol: 0, rtol: 0 } };
    }));
  }
  return cases;
}

/** Integers in [-3, 3]: every product and every partial sum of the exact cases is an integer below 2^24. */
function exactInts(n: number): Float32Array {
  return inputs(n).map((v) => Math.round(v * 3));
}

function transposeCases(): ValidationCase[] {
  const shapes = [[1, 1], [1, 9], [7, 3], [16, 16], [33, 65], [3, 17, 29], [2, 2, 100, 7]];
  return shapes.map((shape) => define('transpose', `[${shape}]`, async (rt) => {
    const n = shape.reduce((p, d) => p * d, 1);
    const x = inputs(n);
    const t = Tensor.upload(rt, x, shape);
    const got = await take(transpose(t));
    const [rows, cols] = shape.slice(-2);
    return { got, ref: transposeReference(x, n / (rows * cols), rows, cols), tolerance: { atol: 0, rtol: 0 } };
  }));
}

interface MatmulCase { M: number; N: number; K: number; batchA?: number; batchB?: number; transA?: boolean; transB?: boolean; exact?: boolean }

export const MATMUL_CASES: MatmulCase[] = [
  { M: 1, N: 1, K: 1 }, { M: 3, N: 5, K: 7 }, { M: 17, N: 31, K: 13 }, { M: 64, N: 64, K: 64 },
  { M: 67, N: 129, K: 73 }, { M: 128, N: 96, K: 200 }, { M: 1, N: 257, K: 11 }, { M: 131, N: 1, K: 37 },
  { M: 33, N: 17, K: 29, batchA: 3, batchB: 3 }, { M: 20, N: 12, K: 8, batchA: 4, batchB: 1 },
  { M: 19, N: 23, K: 41, transA: true }, { M: 19, N: 23, K: 41, transB: true },
  { M: 45, N: 36, K: 27, transA: true, transB: true, batchA: 2, batchB: 2 },
  // Layouts that texture designs copy instead of packing (rows of 256-byte multiples).
  { M: 40, N: 64, K: 64, batchA: 2, batchB: 2 }, { M: 64, N: 128, K: 128, batchA: 3, batchB: 1 }, { M: 100, N: 64, K: 192 },
  // Exact (integers in [-3, 3], |c| <= 9K < 2^24): the K^2 eps bound is 4.4e-3 at K = 192, above a dropped product
  // of two small entries; these cases allow no error at all.
  { M: 67, N: 129, K: 73, exact: true }, { M: 100, N: 64, K: 192, exact: true },
  { M: 45, N: 36, K: 27, transA: true, transB: true, batchA: 2, batchB: 2, exact: true }, { M: 3, N: 5, K: 7, exact: true },
];

function matmulCase(variant: MatmulVariant, c: MatmulCase): ValidationCase {
  const { M, N, K, batchA = 1, batchB = 1, transA = false, transB = false, exact = false } = c;
  const label = `${batchA > 1 || batchB > 1 ? `${batchA}|${batchB} x ` : ''}${M}x${N}x${K}${transA ? ' A^T' : ''}${transB ? ' B^T' : ''}${exact ? ' exact ints' : ''}`;
  return define(`matmul.${variant}`, label, async (rt) => {
    const [a, b] = exact ? [exactInts(batchA * M * K), exactInts(batchB * K * N)] : [inputs(batchA * M * K), inputs(batchB * K * N)];
    const ta = Tensor.upload(rt, a, transA ? [batchA, K, M] : [batchA, M, K]);
    const tb = Tensor.upload(rt, b, transB ? [batchB, N, K] : [batchB, K, N]);
    const got = await take(matmul(ta, tb, { variant, transA, transB }));
    // Sequential accumulation over K: |err| <= K * eps * (|A||B|)_ij (Higham's gamma_K), and |a|,|b| <= 1.
    return { got, ref: matmulReference(a, b, { M, N, K, batchA, batchB, transA, transB }), tolerance: { atol: exact ? 0 : K * F32_EPS * K, rtol: 0 } };
  });
}

function rngCases(): ValidationCase[] {
  const cases: ValidationCase[] = [];
  for (const [n, seed, stream] of [[1, 0, 0], [3, 1, 0], [64, 42, 7], [1001, 2 ** 40 + 3, 5], [65539, 123456789, 2 ** 33]]) {
    cases.push(define('rng.uniform', `n=${n} seed=${seed} stream=${stream}`, async (rt) => ({
      got: await take(randomUniform(rt, [n], seed, stream)), ref: uniformArray(n, seed, stream), tolerance: { atol: 0, rtol: 0 },
    })));
    cases.push(define('rng.uniform', `n=${n} [-3, 5) seed=${seed}`, async (rt) => ({
      got: await take(randomUniform(rt, [n], seed, stream, -3, 5)), ref: uniformArray(n, seed, stream, -3, 5), tolerance: { atol: 8 * HALF_ULP, rtol: 2 * HALF_ULP },
    })));
    // Box-Muller through f32 log, sqrt, cos and sin: WGSL bounds cos/sin by 2^-11 absolute on [-pi, pi] and
    // r = sqrt(-2 ln u1) <= 5.8 for 24-bit u1, so |err| <= 5.8 * 2^-11 * std plus a few ULP.
    cases.push(define('rng.normal', `n=${n} seed=${seed} stream=${stream}`, async (rt) => ({
      got: await take(randomNormal(rt, [n], seed, stream, 0.5, 2)), ref: normalArray(n, seed, stream, 0.5, 2), tolerance: { atol: 5.8 * 2 ** -11 * 2, rtol: 1e-6 },
    })));
  }
  return cases;
}

export function basicCases(options: { variants?: readonly MatmulVariant[] } = {}): ValidationCase[] {
  const variants = options.variants ?? MATMUL_VARIANTS;
  return [
    ...fillCases(),
    ...gatherCases(),
    ...elementwiseCases(),
    ...reduceCases(),
    ...transposeCases(),
    ...variants.flatMap((v) => MATMUL_CASES.map((c) => matmulCase(v, c))),
    ...rngCases(),
  ];
}
