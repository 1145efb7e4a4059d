// Validation cases of batch-norm (training forward, evaluation, backward; with the fused ReLU): each GPU kernel
// against its float64 reference. Tolerances |got - ref| <= atol + rtol |ref| + bound_i (bound_i: a per-element
// allowance where the error depends on the element's own terms) come from a forward error analysis
// with unit roundoff u = 2^-24 (every f32 + - * correctly rounded, inverseSqrt within 2 ULP <= 4u relative)
// and Higham's gamma_k = k u / (1 - k u) for k accumulated roundings. A sum whose terms each pass through at
// most L additions (the kernel's sequential share plus its tree levels: the plan's chainLength) is within
// gamma_L * sum|terms| of the exact sum, whatever the order.
import { Tensor } from '../tensor.ts';
import type { Tolerance } from '../reference/compare.ts';
import { define, HALF_ULP as U, higham, inputs, joinOutputs, numel, shapeName, take, withinBounds, type ValidationCase } from './define.ts';
import { batchNormBackward, batchNormEval, batchNormPlan, batchNormTrain } from '../ops/batchnorm.ts';
import { batchNormBackwardReference, batchNormEvalReference, batchNormTrainReference } from '../reference/batchnorm.ts';

/** Per channel: sum of |v| over the rows of an NHWC tensor viewed as [rows, C]. */
function channelAbsSums(v: ArrayLike<number>, channels: number): Float64Array {
  const sums = new Float64Array(channels);
  for (let i = 0; i < v.length; i++) sums[i % channels] += Math.abs(v[i]);
  return sums;
}

interface BatchNormCase { shape: number[]; low?: number; high?: number; momentum?: number; eps?: number; note?: string; relu?: boolean }

// The fused ReLU keeps every bound: max(v, 0) is exact and moves no value further from the reference than v
// was, and the gated dy is dy or 0 exactly. The outputs centre on beta in [-1, 1], so many are clipped.
const FUSED_RELU_CASES: BatchNormCase[] = [
  { shape: [1, 7, 7, 1] }, { shape: [2, 5, 3, 3] }, { shape: [3, 4, 4, 64] }, { shape: [2, 37, 41, 3], note: '36 chunks' },
  { shape: [2, 3, 5, 130] }, { shape: [4, 2, 2, 512] },
].map((c) => ({ ...c, relu: true }));

// C = 1, 3, 5, 7, 64, 130 (three tiles of 44) and 512 (eight tiles, 16 rows); N = 1; 7x7 and odd planes;
// rows = 3; 2x37x41x3 splits its 3034 rows over 36 workgroups; the last two shapes take two rows per lane and
// have more chunks than the final pass has invocations; values in [40, 41) have |mean| / std ~ 140, where
// E[x^2] - E[x]^2 would lose every digit the tolerance keeps.
const BATCHNORM_CASES: BatchNormCase[] = [
  { shape: [1, 7, 7, 1] }, { shape: [2, 5, 3, 3] }, { shape: [1, 1, 3, 5] }, { shape: [3, 4, 4, 64] },
  { shape: [2, 37, 41, 3], note: '36 chunks' }, { shape: [2, 3, 5, 130] }, { shape: [4, 2, 2, 512] },
  { shape: [2, 6, 5, 5], low: 40, high: 41, note: 'offset mean' }, { shape: [2, 6, 5, 8], low: 40, high: 41, note: 'offset mean, channels in fours' }, { shape: [3, 3, 3, 7], momentum: 0.3, eps: 1e-3 },
  { shape: [2, 24, 24, 64], note: '2 rows per lane, 144 chunks' }, { shape: [1, 160, 140, 3], note: '2 rows per lane, 132 chunks' },
];

function caseName(c: BatchNormCase): string {
  const extras = [c.note, c.momentum !== undefined ? `momentum ${c.momentum}` : '', c.eps !== undefined ? `eps ${c.eps}` : ''].filter(Boolean);
  return `${shapeName(c.shape)}${extras.length ? ` ${extras.join(', ')}` : ''}`;
}

/**
 * Training forward bounds, per channel with n rows, S1 = sum|x|, true mean mu and biased variance v:
 * - mean: the sum is within gamma_L S1, the product with the rounded 1/n adds gamma_2:
 *   delta = gamma_L S1 / n (1 + gamma_2) + gamma_2 |mu|.
 * - variance: each (x - mean)^2 term carries gamma_3 (subtraction, square), the sum gamma_L, the scaling
 *   gamma_2; the mean's error enters only as + delta^2 (sum (x - mu) = 0 kills the first-order term):
 *   |v' - v| <= gamma_(L+5) (v + delta^2) + delta^2.
 * - invStd: v' + eps rounds (u), as does eps itself in f32; 1/sqrt halves the relative error of its
 *   argument, inverseSqrt adds 4u.
 * - y = ((x - mean') * invStd') * g + b: the product's error from delta, invStd and three roundings, then u
 *   of the result for the add.
 * - running stats: (1 - m) r + m batch with m rounded to f32, three roundings and the batch value's error.
 */
export function batchNormTrainBounds(x: ArrayLike<number>, C: number, L: number, g: ArrayLike<number>, ref: ReturnType<typeof batchNormTrainReference>, rm: ArrayLike<number>, rv: ArrayLike<number>, momentum: number, eps: number) {
  const n = x.length / C;
  const S1 = channelAbsSums(x, C);
  const delta = new Float64Array(C), rho = new Float64Array(C), varErr = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    delta[c] = higham(L) * S1[c] / n * (1 + higham(2)) + higham(2) * Math.abs(ref.mean[c]);
    varErr[c] = higham(L + 5) * (ref.variance[c] + delta[c] ** 2) + delta[c] ** 2;
    // The add rounds (u), and eps itself travels as an f32 (u relative to eps).
    const rw = (varErr[c] + U * (ref.variance[c] + varErr[c] + eps) + U * eps) / (ref.variance[c] + eps);
    rho[c] = (rw / 2) * (1 + rw) + 4 * U * (1 + rw);
  }
  const yBound = Float64Array.from(x, (v, i) => {
    const c = i % C;
    const dev = Math.abs(v - ref.mean[c]);
    return Math.abs(g[c]) * ref.invStd[c] * ((delta[c] + dev * rho[c]) * (1 + rho[c]) * (1 + higham(3)) + dev * higham(3)) * (1 + U);
  });
  const unbias = n / (n - 1);
  const runningMeanBound = Float64Array.from(delta, (d, c) =>
    momentum * d * (1 + higham(3)) + higham(4) * ((1 - momentum) * Math.abs(rm[c]) + momentum * Math.abs(rm[c]) + momentum * Math.abs(ref.mean[c])));
  const runningVarBound = Float64Array.from(varErr, (e, c) => {
    const batchVarErr = unbias * e * (1 + higham(2)) + higham(2) * unbias * ref.variance[c];
    return momentum * batchVarErr * (1 + higham(3)) + higham(4) * ((1 - momentum) * Math.abs(rv[c]) + momentum * Math.abs(rv[c]) + momentum * unbias * ref.variance[c]);
  });
  const bounded = (bound: ArrayLike<number>, rtol = 0): Tolerance => ({ atol: 0, rtol, bound });
  return {
    y: bounded(yBound, U), mean: bounded(delta), invStd: bounded(Float64Array.from(rho, (r, c) => r * ref.invStd[c])),
    runningMean: bounded(runningMeanBound), runningVar: bounded(runningVarBound),
  };
}

function batchNormParams(C: number) {
  return { g: inputs(C, -1.5, 1.5), b: inputs(C, -1, 1), rm: inputs(C, -0.5, 0.5), rv: inputs(C, 0.5, 2) };
}

const relu = (v: ArrayLike<number>) => Float64Array.from(v, (x) => Math.max(x, 0));
const kernelName = (base: string, c: BatchNormCase) => (c.relu ? `${base}_relu` : base);

function batchNormTrainCase(c: BatchNormCase): ValidationCase {
  return define(kernelName('batchnorm.train', c), caseName(c), async (rt) => {
    const { shape, low = -1, high = 3, momentum = 0.1, eps = 1e-5 } = c;
    const C = shape[3];
    const x = inputs(numel(shape), low, high);
    const { g, b, rm, rv } = batchNormParams(C);
    const tx = Tensor.upload(rt, x, shape), tg = Tensor.upload(rt, g), tb = Tensor.upload(rt, b);
    const trm = Tensor.upload(rt, rm), trv = Tensor.upload(rt, rv);
    const out = batchNormTrain(tx, tg, tb, trm, trv, { momentum, eps, relu: c.relu });
    const got = { y: await take(out.y), mean: await take(out.mean), invStd: await take(out.invStd), runningMean: await take(trm), runningVar: await take(trv) };
    const ref = batchNormTrainReference(x, C, g, b, rm, rv, momentum, eps);
    if (c.relu) ref.y = relu(ref.y);
    const tol = batchNormTrainBounds(x, C, batchNormPlan(shape).chainLength, g, ref, rm, rv, momentum, eps);
    return joinOutputs((['y', 'mean', 'invStd', 'runningMean', 'runningVar'] as const).map((k) => ({ got: got[k], ref: ref[k], tolerance: tol[k] })));
  });
}

/**
 * Eval forward ((x - rm) * inverseSqrt(rv + eps)) * g + b: the subtraction and two products round (3u); the
 * root's argument is within 2u (the add, and eps rounded to f32), which the root halves (u); inverseSqrt adds
 * 4u: the product is within 8u, so gamma_9 covers it, then u of the result for the final add.
 */
function batchNormEvalCase(c: BatchNormCase): ValidationCase {
  return define(kernelName('batchnorm.eval', c), caseName(c), async (rt) => {
    const { shape, low = -1, high = 3, eps = 1e-5 } = c;
    const C = shape[3];
    const x = inputs(numel(shape), low, high);
    const { g, b, rm, rv } = batchNormParams(C);
    const tensors = [Tensor.upload(rt, x, shape), Tensor.upload(rt, g), Tensor.upload(rt, b), Tensor.upload(rt, rm), Tensor.upload(rt, rv)] as const;
    const got = await take(batchNormEval(...tensors, eps, c.relu));
    const plain = batchNormEvalReference(x, C, g, b, rm, rv, eps);
    const ref = c.relu ? relu(plain) : plain;
    const bound = Float64Array.from(x, (v, i) => {
      const k = i % C;
      return higham(9) * Math.abs(g[k] * (v - rm[k])) / Math.sqrt(rv[k] + eps) * (1 + U);
    });
    return { got, ref, tolerance: { atol: 0, rtol: U, bound } };
  });
}

/**
 * Backward from the saved f32 mean and inverse std (both sides use the same rounded values): xhat carries
 * gamma_2; sum(dy) is within gamma_L sum|dy|, sum(dy xhat) within gamma_(L+3) sum|dy xhat|; each is scaled by
 * the rounded 1/n (gamma_2); dx = (g * s) * ((dy - A) - xhat * B) adds a rounding per operation, bounded per
 * element below.
 */
function batchNormBackwardCase(c: BatchNormCase): ValidationCase {
  return define(kernelName('batchnorm.backward', c), caseName(c), async (rt) => {
    const { shape, low = -1, high = 3, eps = 1e-5 } = c;
    const C = shape[3];
    const n = numel(shape) / C;
    const x = inputs(numel(shape), low, high);
    const incoming = inputs(numel(shape), -1, 1);
    const { g, b, rm, rv } = batchNormParams(C);
    const forward = batchNormTrainReference(x, C, g, b, rm, rv, 0.1, eps);
    const mean = Float32Array.from(forward.mean), invStd = Float32Array.from(forward.invStd);
    // Fused ReLU: the gate is the forward's output, and dy passes where it is positive.
    const gate = c.relu ? Float32Array.from(relu(forward.y)) : undefined;
    const dy = gate ? Float64Array.from(incoming, (v, i) => (gate[i] > 0 ? v : 0)) : incoming;
    const tensors = [Tensor.upload(rt, incoming, shape), Tensor.upload(rt, x, shape), Tensor.upload(rt, g), Tensor.upload(rt, mean), Tensor.upload(rt, invStd)] as const;
    const gateTensor = gate ? Tensor.upload(rt, gate, shape) : undefined;
    const out = batchNormBackward(...tensors, gateTensor);
    const got = { dx: await take(out.dx), dgamma: await take(out.dgamma), dbeta: await take(out.dbeta) };
    const ref = batchNormBackwardReference(dy, x, C, g, mean, invStd);

    const L = batchNormPlan(shape).chainLength;
    const xhat = Float64Array.from(x, (v, i) => (v - mean[i % C]) * invStd[i % C]);
    const sumAbsDy = channelAbsSums(dy, C);
    const sumAbsDyXhat = channelAbsSums(Float64Array.from(dy, (v, i) => v * xhat[i]), C);
    const dbetaErr = Float64Array.from(sumAbsDy, (s) => higham(L) * s);
    const dgammaErr = Float64Array.from(sumAbsDyXhat, (s) => higham(L + 3) * s);
    const dxBound = Float64Array.from(x, (_, i) => {
      const k = i % C;
      const A = ref.dbeta[k] / n, B = ref.dgamma[k] / n;
      const errA = dbetaErr[k] / n * (1 + higham(2)) + higham(2) * Math.abs(A);
      const errB = dgammaErr[k] / n * (1 + higham(2)) + higham(2) * Math.abs(B);
      const errQ = Math.abs(xhat[i]) * errB * (1 + higham(3)) + higham(3) * Math.abs(xhat[i] * B);
      const errD1 = errA * (1 + U) + U * Math.abs(dy[i] - A);
      const errD2 = (errD1 + errQ) * (1 + U) + U * Math.abs(dy[i] - A - xhat[i] * B);
      return Math.abs(g[k] * invStd[k]) * errD2 * (1 + higham(2));
    });
    return joinOutputs([
      { got: got.dx, ref: ref.dx, tolerance: { atol: 0, rtol: higham(2), bound: dxBound } },
      withinBounds(got.dgamma, ref.dgamma, dgammaErr),
      withinBounds(got.dbeta, ref.dbeta, dbetaErr),
    ]);
  });
}

export function batchNormCases(): ValidationCase[] {
  return [
    ...BATCHNORM_CASES.map(batchNormTrainCase),
    ...BATCHNORM_CASES.map(batchNormEvalCase),
    ...BATCHNORM_CASES.map(batchNormBackwardCase),
    ...FUSED_RELU_CASES.flatMap((c) => [batchNormTrainCase(c), batchNormEvalCase(c), batchNormBackwardCase(c)]),
  ];
}
