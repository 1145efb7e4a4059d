// Validation cases of the elementwise kernels (unary, binary with broadcasting, scale_add): each kernel against its float64 CPU reference, with a stated tolerance
// |got - ref| <= atol + rtol * |ref|. `saln validate` runs them on the user's adapter; kernels-test asserts them.
import { Tensor } from '../tensor.ts';
import { F32_EPS, type Tolerance } from '../reference/compare.ts';
import { define, HALF_ULP, inputs, take, type ValidationCase } from './define.ts';
import { binary, scaleAdd, unary, BINARY_OPS, UNARY_OPS, type BinaryOp, type UnaryOp } from '../ops/elementwise.ts';
import { binaryArray, scaleAddArray, unaryArray } from '../reference/elementwise.ts';

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

export function elementwiseCases(): ValidationCase[] {
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
