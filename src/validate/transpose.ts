// Validation cases of the batched transpose: each kernel against its float64 CPU reference, with a stated tolerance
// |got - ref| <= atol + rtol * |ref|. `saln validate` runs them on the user's adapter; kernels-test asserts them.
import { Tensor } from '../tensor.ts';
import { define, inputs, take, type ValidationCase } from './define.ts';
import { transpose } from '../ops/transpose.ts';
import { transposeReference } from '../reference/transpose.ts';

export function transposeCases(): ValidationCase[] {
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
