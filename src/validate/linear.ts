// Validation cases of the linear layer (forward and backward) against the float64 reference, under
// |got - ref| <= atol + rtol * |ref| with bounds from WGSL's accuracy rules (h = 2^-24, the unit roundoff) and the
// order in which the kernels add (see loss.ts for the rules).
import { Tensor } from '../tensor.ts';
import { F32_EPS, type Tolerance } from '../reference/compare.ts';
import { define, HALF_ULP, inputs, joinOutputs, take, type CaseOutput, type ValidationCase } from './define.ts';
import { linear, linearBackward } from '../ops/linear.ts';
import { linearBackwardReference, linearReference } from '../reference/linear.ts';

const h = HALF_ULP;

export interface LinearConfig { rows: number; inFeatures: number; outFeatures: number; bias: boolean }

export const LINEAR_CONFIGS: LinearConfig[] = [
  { rows: 1, inFeatures: 1, outFeatures: 1, bias: true },
  { rows: 3, inFeatures: 5, outFeatures: 4, bias: true },
  { rows: 7, inFeatures: 7, outFeatures: 3, bias: false },
  { rows: 16, inFeatures: 64, outFeatures: 10, bias: true },
  { rows: 5, inFeatures: 37, outFeatures: 1, bias: true },
  { rows: 13, inFeatures: 512, outFeatures: 10, bias: true },
  { rows: 2, inFeatures: 3, outFeatures: 1000, bias: true },
  { rows: 33, inFeatures: 65, outFeatures: 17, bias: false },
];

const linearLabel = (c: LinearConfig) => `${c.rows}x${c.inFeatures} -> ${c.outFeatures}${c.bias ? '' : ' no bias'}`;

/**
 * Operands in [-1, 1]. A matmul accumulating K products in sequence is within K eps sum|a||b| <= K eps K
 * (Higham's gamma_K with eps = 2h, as the matmul cases state); the bias add rounds once more (h |y| <= h (K + 1)).
 * db is a sum over rows in sequence or a tree: rows eps rows, as the reduce cases state.
 */
export function linearTolerances(c: LinearConfig) {
  const gemm = (K: number): Tolerance => ({ atol: K * F32_EPS * K, rtol: 0 });
  const forward = gemm(c.inFeatures);
  return {
    y: { atol: forward.atol + h * (c.inFeatures + 1), rtol: 0 } as Tolerance,
    dx: gemm(c.outFeatures), dWeight: gemm(c.rows), dBias: gemm(c.rows),
  };
}

function linearForwardCase(c: LinearConfig): ValidationCase {
  return define('linear.forward', linearLabel(c), async (rt) => {
    const x = inputs(c.rows * c.inFeatures), weight = inputs(c.outFeatures * c.inFeatures), bias = c.bias ? inputs(c.outFeatures) : null;
    const tx = Tensor.upload(rt, x, [c.rows, c.inFeatures]), tw = Tensor.upload(rt, weight, [c.outFeatures, c.inFeatures]);
    const tb = bias ? Tensor.upload(rt, bias) : null;
    const got = await take(linear(tx, tw, tb).y);
    return { got, ref: linearReference(x, weight, bias, c), tolerance: linearTolerances(c).y };
  });
}

function linearBackwardCase(c: LinearConfig): ValidationCase {
  return define('linear.backward', linearLabel(c), async (rt) => {
    const x = inputs(c.rows * c.inFeatures), weight = inputs(c.outFeatures * c.inFeatures), dy = inputs(c.rows * c.outFeatures);
    const tx = Tensor.upload(rt, x, [c.rows, c.inFeatures]), tw = Tensor.upload(rt, weight, [c.outFeatures, c.inFeatures]);
    const tdy = Tensor.upload(rt, dy, [c.rows, c.outFeatures]);
    const grads = linearBackward(tdy, { x: tx, weight: tw, hasBias: c.bias });
    const parts: CaseOutput[] = [];
    const ref = linearBackwardReference(dy, x, weight, c);
    const tol = linearTolerances(c);
    parts.push({ got: await take(grads.dx), ref: ref.dx, tolerance: tol.dx });
    parts.push({ got: await take(grads.dWeight), ref: ref.dWeight, tolerance: tol.dWeight });
    if (grads.dBias) parts.push({ got: await take(grads.dBias), ref: ref.dBias, tolerance: tol.dBias });
    return joinOutputs(parts);
  });
}

export function linearCases(): ValidationCase[] {
  return [...LINEAR_CONFIGS.map(linearForwardCase), ...LINEAR_CONFIGS.map(linearBackwardCase)];
}
