// Validation cases of the reductions (sum, mean, max, argmax along an axis): each kernel against its float64 CPU reference, with a stated tolerance
// |got - ref| <= atol + rtol * |ref|. `saln validate` runs them on the user's adapter; kernels-test asserts them.
import { Tensor } from '../tensor.ts';
import { F32_EPS } from '../reference/compare.ts';
import { define, exactInts, HALF_ULP, inputs, take, type ValidationCase } from './define.ts';
import { reduce, type ReduceOp } from '../ops/reduce.ts';
import { reduceReference } from '../reference/reduce.ts';

export function reduceCases(): ValidationCase[] {
  const cases: ValidationCase[] = [];
  const shapes: [number[], number][] = [[[1], 0], [[7], 0], [[3, 5], 1], [[3, 5], 0], [[4, 129, 3], 1], [[2, 1000], -1], [[13, 4097], 1], [[65, 17, 31], 0],
    // inner a multiple of 4: the strided entries take 4 neighbouring outputs per invocation (vec4 loads).
    [[5, 12], 0], [[3, 7, 8], 1], [[9, 4], 0]];
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
  for (const [shape, axis] of [[[13, 4097], 1], [[2, 1000], -1], [[65, 17, 31], 0], [[4, 129, 3], 1], [[33, 20], 0], [[2, 5, 64], 1]] as [number[], number][]) {
    cases.push(define('reduce.sum', `[${shape}] axis ${axis} exact ints`, async (rt) => {
      const x = exactInts(shape.reduce((p, d) => p * d, 1));
      const t = Tensor.upload(rt, x, shape);
      const got = await take(reduce('sum', t, axis));
      return { got, ref: reduceReference('sum', x, shape, axis), tolerance: { atol: 0, rtol: 0 } };
    }));
  }
  return cases;
}
