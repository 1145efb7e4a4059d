// Validation cases of max-pool and global average pool (forward and backward) against the float64 reference;
// tolerances from a forward error analysis with unit roundoff u = 2^-24 and Higham's gamma_k (see batchnorm.ts).
import { Tensor } from '../tensor.ts';
import { define, higham, inputs, joinOutputs, numel, shapeName, take, withinBounds, type ValidationCase } from './define.ts';
import { globalAvgPool, globalAvgPoolBackward, globalAvgPoolPlan, maxPool2d, maxPool2dBackward, maxPoolGeometry, type MaxPoolOptions } from '../ops/pool.ts';
import { globalAvgPoolBackwardReference, globalAvgPoolReference, maxPool2dBackwardReference, maxPool2dReference } from '../reference/pool.ts';

// ---- max-pool -----------------------------------------------------------------------------------------------

interface MaxPoolCase { shape: number[]; options?: MaxPoolOptions; ties?: boolean }

// ResNet's 3x3/2/1 on 7x7, odd and even planes, C = 1, 3, 5, 64; other windows (2x2/2/0, 3x2 with strides
// 1x2, 1x1/1/0); values drawn from {0, 1, 2} so most windows hold ties that must go to the first maximum.
const MAXPOOL_CASES: MaxPoolCase[] = [
  { shape: [1, 7, 7, 1] }, { shape: [2, 8, 8, 3] }, { shape: [1, 9, 11, 5] }, { shape: [2, 6, 6, 64] },
  { shape: [2, 37, 41, 3] }, { shape: [1, 5, 5, 3], options: { kernel: 2, stride: 2, padding: 0 } },
  { shape: [1, 7, 5, 2], options: { kernel: [3, 2], stride: [1, 2], padding: [1, 0] } },
  { shape: [2, 3, 4, 3], options: { kernel: 1, stride: 1, padding: 0 } },
  { shape: [2, 9, 7, 5], ties: true },
  // Channels in fours: the backward walks them as vec4s.
  { shape: [2, 9, 7, 8], ties: true }, { shape: [1, 7, 5, 4], options: { kernel: [3, 2], stride: [1, 2], padding: [1, 0] } },
  { shape: [2, 14, 14, 12] },
];

function windowOf(shape: number[], options: MaxPoolOptions = {}) {
  const g = maxPoolGeometry(shape, options);
  return { kernel: [g.kernelH, g.kernelW] as [number, number], stride: [g.strideH, g.strideW] as [number, number], padding: [g.padH, g.padW] as [number, number] };
}

function maxPoolName(c: MaxPoolCase): string {
  const w = windowOf(c.shape, c.options);
  return `${shapeName(c.shape)} k${w.kernel.join('x')} s${w.stride.join('x')} p${w.padding.join('x')}${c.ties ? ' ties' : ''}`;
}

function maxPoolInput(c: MaxPoolCase): Float32Array {
  const x = inputs(numel(c.shape), -2, 2);
  return c.ties ? x.map((v) => Math.floor((v + 2) * 0.75)) : x;
}

/** The forward selects input values: y and the arg-max must match exactly. */
function maxPoolForwardCase(c: MaxPoolCase): ValidationCase {
  return define('maxpool.forward', maxPoolName(c), async (rt) => {
    const x = maxPoolInput(c);
    const tx = Tensor.upload(rt, x, c.shape);
    const out = maxPool2d(tx, c.options);
    const got = { y: await take(out.y), argmax: await take(out.argmax) };
    const ref = maxPool2dReference(x, c.shape, windowOf(c.shape, c.options));
    const exact = { atol: 0, rtol: 0 };
    return joinOutputs([{ got: got.y, ref: ref.y, tolerance: exact }, { got: got.argmax, ref: ref.argmax, tolerance: exact }]);
  });
}

/**
 * Backward from the reference arg-max: an input element sums dy over at most m = ceil(kH/sH) ceil(kW/sW)
 * windows, starting from 0 (exact), so within gamma_(m-1) of the sum of the |dy| it receives.
 */
function maxPoolBackwardCase(c: MaxPoolCase): ValidationCase {
  return define('maxpool.backward', maxPoolName(c), async (rt) => {
    const window = windowOf(c.shape, c.options);
    const forward = maxPool2dReference(maxPoolInput(c), c.shape, window);
    const dy = inputs(forward.y.length, -1, 1);
    const tdy = Tensor.upload(rt, dy, forward.outShape), targ = Tensor.upload(rt, forward.argmax, forward.outShape, 'u32');
    const got = await take(maxPool2dBackward(tdy, targ, c.shape, c.options));
    const ref = maxPool2dBackwardReference(dy, forward.argmax, c.shape, forward.outShape);
    const received = maxPool2dBackwardReference(dy.map(Math.abs), forward.argmax, c.shape, forward.outShape);
    const m = Math.ceil(window.kernel[0] / window.stride[0]) * Math.ceil(window.kernel[1] / window.stride[1]);
    return withinBounds(got, ref, received.map((r) => higham(Math.max(0, m - 1)) * r));
  });
}

// ---- global average pool ------------------------------------------------------------------------------------

// N = 1, C = 1, 3, 5, 64, 130 and 512 (the ResNet head: 7x7x512), a 1x1 plane, and 37x41 planes whose 1517
// rows are split over 85 lanes.
const AVGPOOL_SHAPES = [[1, 7, 7, 1], [2, 7, 7, 64], [3, 5, 3, 5], [2, 1, 1, 3], [2, 37, 41, 3], [1, 7, 7, 512], [2, 4, 4, 130]];

/** The plane sum is within gamma_L sum|x|; the product with the rounded 1/(H W) adds gamma_2. */
function avgPoolCase(shape: number[]): ValidationCase {
  return define('avgpool.global', shapeName(shape), async (rt) => {
    const x = inputs(numel(shape), -1, 2);
    const tx = Tensor.upload(rt, x, shape);
    const got = await take(globalAvgPool(tx));
    const L = globalAvgPoolPlan(shape).chainLength;
    const bound = globalAvgPoolReference(x.map(Math.abs), shape).map((absMean) => higham(L) * absMean * (1 + higham(2)));
    return { got, ref: globalAvgPoolReference(x, shape), tolerance: { atol: 0, rtol: higham(2), bound } };
  });
}

/** dy times the rounded 1/(H W): two roundings. */
function avgPoolBackwardCase(shape: number[]): ValidationCase {
  return define('avgpool.global_backward', shapeName(shape), async (rt) => {
    const dy = inputs(shape[0] * shape[3], -1, 1);
    const tdy = Tensor.upload(rt, dy, [shape[0], shape[3]]);
    const got = await take(globalAvgPoolBackward(tdy, shape));
    return { got, ref: globalAvgPoolBackwardReference(dy, shape), tolerance: { atol: 0, rtol: higham(2) } };
  });
}

export function poolCases(): ValidationCase[] {
  return [
    ...MAXPOOL_CASES.map(maxPoolForwardCase),
    ...MAXPOOL_CASES.map(maxPoolBackwardCase),
    ...AVGPOOL_SHAPES.map(avgPoolCase),
    ...AVGPOOL_SHAPES.map(avgPoolBackwardCase),
  ];
}
