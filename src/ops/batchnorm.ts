// Batch normalisation over NHWC activations, statistics per channel over N*H*W (PyTorch's BatchNorm2d).
import { Tensor } from '../tensor.ts';
import type { Runtime } from '../gpu/runtime.ts';

export interface BatchNormOptions {
  /** Weight of the batch statistic in the running average (PyTorch's convention); 0.1 by default. */
  momentum?: number;
  eps?: number;
  /** Fused ReLU on the output (a block's bn1, the stem): one pass instead of two, forward and backward. */
  relu?: boolean;
}

export const BATCHNORM_EPS = 1e-5;
export const BATCHNORM_MOMENTUM = 0.1;

const WG = 256;
const FINAL_WG = 64;
const MAX_ROWS_PER_THREAD = 32;
// Enough chunks to fill a large GPU when the rows allow it, few enough that each lane's sequential share
// amortises the tree and the partial write.
const TARGET_CHUNKS = 256;

/** How the per-channel row reductions are split; the validation derives its rounding bounds from it. */
export interface BatchNormPlan {
  rows: number;
  channels: number;
  channelTile: number;
  rowLanes: number;
  rowsPerThread: number;
  chunks: number;
  channelTiles: number;
  /** Longest chain of f32 additions behind any per-channel sum. */
  chainLength: number;
}

export function batchNormPlan(shape: readonly number[]): BatchNormPlan {
  if (shape.length !== 4) throw new Error(`batch-norm takes NHWC activations [N, H, W, C], got [${shape.join(', ')}]`);
  const channels = shape[3];
  const rows = shape[0] * shape[1] * shape[2];
  // Channels split into tiles of near-equal width, so that C = 65 is two tiles of 33, not 64 + 1.
  const channelTiles = Math.max(1, Math.ceil(channels / 64));
  const channelTile = Math.max(1, Math.ceil(channels / channelTiles));
  const rowLanes = Math.floor(WG / channelTile);
  let rowsPerThread = Math.min(MAX_ROWS_PER_THREAD, Math.max(1, Math.ceil(rows / (rowLanes * TARGET_CHUNKS))));
  // A grid dimension holds at most 65535 workgroups.
  rowsPerThread = Math.max(rowsPerThread, Math.ceil(rows / (rowLanes * 65535)));
  const chunks = Math.max(1, Math.ceil(rows / (rowLanes * rowsPerThread)));
  const chainLength = rowsPerThread + Math.ceil(Math.log2(rowLanes)) + Math.ceil(chunks / FINAL_WG) + Math.log2(FINAL_WG);
  return { rows, channels, channelTile, rowLanes, rowsPerThread, chunks, channelTiles, chainLength };
}

function params(plan: BatchNormPlan, eps = 0, momentum = 0) {
  const { rows, channels, channelTile, rowLanes, rowsPerThread, chunks } = plan;
  return {
    rows, channels, channelTile, rowLanes, rowsPerThread, chunks, total: rows * channels,
    invCount: 1 / rows, eps, momentum, unbias: rows > 1 ? rows / (rows - 1) : 0,
  };
}

function checkChannels(name: string, t: Tensor, channels: number): void {
  if (t.size !== channels) throw new Error(`batch-norm: ${name} has ${t.size} elements, expected one per channel (${channels})`);
}

/** Per-channel sums of x over the rows ('sum_partial'), or of (x - mean)^2 ('sqdev_partial'), into [C]. */
function channelSums(rt: Runtime, plan: BatchNormPlan, x: Tensor, partialEntry: 'sum_partial' | 'sqdev_partial', mean?: Tensor): Tensor {
  const chunkSum = Tensor.empty(rt, [plan.chunks, plan.channels]);
  rt.launch({
    shader: 'batchnorm', entry: partialEntry,
    bindings: mean ? { x, mean, chunkSum } : { x, chunkSum },
    needs: mean ? { x: x.size, mean: plan.channels, chunkSum: chunkSum.size } : { x: x.size, chunkSum: chunkSum.size },
    uniforms: params(plan), workgroups: [plan.chunks, plan.channelTiles],
  });
  return chunkSum;
}

/**
 * Training forward: normalises with the batch statistics (biased variance) and updates the running mean and
 * variance in place (running = (1 - momentum) * running + momentum * batch, unbiased variance). Returns the
 * output and the saved mean and inverse std ([C] each) that the backward takes.
 */
export function batchNormTrain(x: Tensor, gamma: Tensor, beta: Tensor, runningMean: Tensor, runningVar: Tensor, options: BatchNormOptions = {}): { y: Tensor; mean: Tensor; invStd: Tensor } {
  const { momentum = BATCHNORM_MOMENTUM, eps = BATCHNORM_EPS, relu = false } = options;
  const plan = batchNormPlan(x.shape);
  const C = plan.channels;
  for (const [name, t] of [['gamma', gamma], ['beta', beta], ['runningMean', runningMean], ['runningVar', runningVar]] as const) checkChannels(name, t, C);
  // PyTorch refuses this too: one value per channel has no variance to normalise by.
  if (plan.rows <= 1) throw new Error(`batch-norm training needs more than one value per channel, got input [${x.shape.join(', ')}]`);
  const rt = x.rt;
  const uniforms = params(plan, eps, momentum);
  const mean = Tensor.empty(rt, [C]);
  const invStd = Tensor.empty(rt, [C]);
  const y = Tensor.empty(rt, x.shape);

  // Each stage's per-chunk partial sums are freed as soon as its finalize is queued (the scope ends).
  rt.scope(() => {
    const sums = channelSums(rt, plan, x, 'sum_partial');
    rt.launch({ shader: 'batchnorm', entry: 'mean_finalize', bindings: { chunkSumIn: sums, meanOut: mean }, needs: { chunkSumIn: sums.size, meanOut: C }, uniforms, workgroups: C });
  });
  rt.scope(() => {
    const squares = channelSums(rt, plan, x, 'sqdev_partial', mean);
    rt.launch({
      shader: 'batchnorm', entry: 'var_finalize',
      bindings: { chunkSumIn: squares, mean, invStdOut: invStd, runningMean, runningVar },
      needs: { chunkSumIn: squares.size, mean: C, invStdOut: C, runningMean: C, runningVar: C },
      uniforms, workgroups: C,
    });
  });
  rt.launch({
    shader: 'batchnorm', entry: 'normalize', overrides: { RELU: relu }, bindings: { x, mean, invStd, gamma, beta, y },
    needs: { x: x.size, mean: C, invStd: C, gamma: C, beta: C, y: y.size },
    uniforms, invocations: x.size,
  });
  return { y, mean, invStd };
}

/** Inference forward: normalises with the running statistics. */
export function batchNormEval(x: Tensor, gamma: Tensor, beta: Tensor, runningMean: Tensor, runningVar: Tensor, eps = BATCHNORM_EPS, relu = false): Tensor {
  const plan = batchNormPlan(x.shape);
  const C = plan.channels;
  for (const [name, t] of [['gamma', gamma], ['beta', beta], ['runningMean', runningMean], ['runningVar', runningVar]] as const) checkChannels(name, t, C);
  const y = Tensor.empty(x.rt, x.shape);
  if (y.size === 0) return y;
  x.rt.launch({
    shader: 'batchnorm', entry: 'normalize_eval', overrides: { RELU: relu }, bindings: { x, mean: runningMean, variance: runningVar, gamma, beta, y },
    needs: { x: x.size, mean: C, variance: C, gamma: C, beta: C, y: y.size },
    uniforms: params(plan, eps), invocations: x.size,
  });
  return y;
}

/**
 * Training-mode backward from the saved mean and inverse std: gradients of x, gamma and beta. `reluOutput`: the
 * forward ran with the fused ReLU and this is its output (dy passes where it is positive).
 */
export function batchNormBackward(dy: Tensor, x: Tensor, gamma: Tensor, mean: Tensor, invStd: Tensor, reluOutput?: Tensor): { dx: Tensor; dgamma: Tensor; dbeta: Tensor } {
  const plan = batchNormPlan(x.shape);
  const C = plan.channels;
  if (dy.size !== x.size) throw new Error(`batch-norm backward: dy [${dy.shape.join(', ')}] does not match x [${x.shape.join(', ')}]`);
  if (reluOutput && reluOutput.size !== x.size) throw new Error(`batch-norm backward: the ReLU output [${reluOutput.shape.join(', ')}] does not match x [${x.shape.join(', ')}]`);
  // Without the fused ReLU the gate is never read; dy (read-only, the right size) fills the slot.
  const gate = reluOutput ?? dy;
  const overrides = { RELU: Boolean(reluOutput) };
  for (const [name, t] of [['gamma', gamma], ['mean', mean], ['invStd', invStd]] as const) checkChannels(name, t, C);
  const rt = x.rt;
  const uniforms = params(plan);
  const dgamma = Tensor.empty(rt, [C]);
  const dbeta = Tensor.empty(rt, [C]);
  const dx = Tensor.empty(rt, x.shape);
  rt.scope(() => {
    const chunkSum = Tensor.empty(rt, [plan.chunks, C]);
    const chunkSum2 = Tensor.empty(rt, [plan.chunks, C]);
    rt.launch({
      shader: 'batchnorm', entry: 'grad_partial', overrides, bindings: { dy, gate, x, mean, invStd, chunkSum, chunkSum2 },
      needs: { dy: dy.size, gate: gate.size, x: x.size, mean: C, invStd: C, chunkSum: chunkSum.size, chunkSum2: chunkSum2.size },
      uniforms, workgroups: [plan.chunks, plan.channelTiles],
    });
    rt.launch({
      shader: 'batchnorm', entry: 'grad_finalize', bindings: { chunkSumIn: chunkSum, chunkSum2In: chunkSum2, dbeta, dgamma },
      needs: { chunkSumIn: chunkSum.size, chunkSum2In: chunkSum2.size, dbeta: C, dgamma: C },
      uniforms, workgroups: C,
    });
  });
  rt.launch({
    shader: 'batchnorm', entry: 'grad_input', overrides, bindings: { dy, gate, x, mean, invStd, gamma, sumDy: dbeta, sumDyXhat: dgamma, dx },
    needs: { dy: dy.size, gate: gate.size, x: x.size, mean: C, invStd: C, gamma: C, sumDy: C, sumDyXhat: C, dx: dx.size },
    uniforms, invocations: x.size,
  });
  return { dx, dgamma, dbeta };
}
