// Validation cases of fill, copy and gather_rows: each kernel against its float64 CPU reference, with a stated tolerance
// |got - ref| <= atol + rtol * |ref|. `saln validate` runs them on the user's adapter; kernels-test asserts them.
import { Tensor } from '../tensor.ts';
import { define, inputs, take, type ValidationCase } from './define.ts';
import { copy, fill, gatherRows } from '../ops/fill.ts';

const SIZES = [1, 7, 64, 257, 4099, 65537];

export function fillCases(): ValidationCase[] {
  return SIZES.flatMap((n) => [
    define('fill', `n=${n}`, async (rt) => ({ got: await take(fill(Tensor.empty(rt, [n]), -2.5)), ref: new Float64Array(n).fill(-2.5), tolerance: { atol: 0, rtol: 0 } })),
    // fill(0) is the queue's clear: on a window of a tensor of -1s, only the window may change.
    define('fill', `n=${n} zero, a window at element 4`, async (rt) => {
      const whole = Tensor.upload(rt, new Float32Array(n + 7).fill(-1));
      fill(whole.slice(4, [n]), 0);
      const ref = new Float64Array(n + 7).fill(-1).fill(0, 4, 4 + n);
      return { got: await take(whole), ref, tolerance: { atol: 0, rtol: 0 } };
    }),
    define('copy', `n=${n}`, async (rt) => {
      const x = inputs(n);
      const src = Tensor.upload(rt, x);
      const got = await take(copy(src, Tensor.empty(rt, [n])));
      return { got, ref: x, tolerance: { atol: 0, rtol: 0 } };
    }),
  ]);
}

/** gather_rows: a selector's kept rows out of a super-batch (exact copies). */
export function gatherCases(): ValidationCase[] {
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
