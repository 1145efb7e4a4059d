// Validation cases of ReLU backward and the fused add + ReLU against the float64 reference (see batchnorm.ts for
// the error analysis the tolerances come from).
import { Tensor } from '../tensor.ts';
import { define, HALF_ULP as U, inputs, take, type ValidationCase } from './define.ts';
import { addRelu, reluBackward } from '../ops/relu.ts';
import { addReluReference, reluBackwardReference } from '../reference/relu.ts';

const RELU_SIZES = [1, 5, 256, 1031, 70001];

/** A selection: exact. The mask comes from a real ReLU output, zeros included. */
function reluBackwardCase(n: number, inPlace: boolean): ValidationCase {
  return define('relu.backward', `n=${n}${inPlace ? ' in place' : ''}`, async (rt) => {
    const y = inputs(n, -1, 1).map((v) => Math.max(v, 0));
    const dy = inputs(n, -1, 1);
    const tdy = Tensor.upload(rt, dy), ty = Tensor.upload(rt, y);
    const dx = reluBackward(tdy, ty, { inPlace });
    const got = await take(dx);
    return { got, ref: reluBackwardReference(dy, y), tolerance: { atol: 0, rtol: 0 } };
  });
}

/** One rounded add; max with 0 is exact. */
function addReluCase(n: number, inPlace: boolean): ValidationCase {
  return define('add_relu', `n=${n}${inPlace ? ' in place' : ''}`, async (rt) => {
    const a = inputs(n, -2, 2), b = inputs(n, -2, 2);
    const ta = Tensor.upload(rt, a), tb = Tensor.upload(rt, b);
    const out = addRelu(ta, tb, { inPlace });
    const got = await take(out);
    return { got, ref: addReluReference(a, b), tolerance: { atol: 0, rtol: U } };
  });
}

export function reluCases(): ValidationCase[] {
  return [
    ...RELU_SIZES.map((n) => reluBackwardCase(n, false)), reluBackwardCase(1001, true),
    ...RELU_SIZES.map((n) => addReluCase(n, false)), addReluCase(1001, true),
  ];
}
