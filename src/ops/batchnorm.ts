// Batch normalisation over NHWC activations, statistics per channel over N*H*W (PyTorch's BatchNorm2d).
import { Tensor } from '../tensor.ts';
import type { Runtime } from '../gpu/runtime.ts';
import { widthBindings, widthFor, type Width } from './vec4-twin.ts';

export interface BatchNormOptions {
  /** Weight of the batch statistic in the running average (PyTorch's convention); 0.1 by default. */
  momentum?: number;
  eps?: number;
  /** Fused ReLU on the output (a block's bn1, the stem): one pass instead of two, forward and backward. */
  relu?: boolean;
}

export const BATCHNORM_EPS = 1e-5;
export const BATCHNORM_MOMENTUM = 0.1;

// Row ranges per channel: about sqrt(rows) / 2, so that a lane's share (rowsPerLane ~ 2 sqrt(rows)) and the
// partials every consumer re-sums (lanes per channel, so C * lanes^2 ~ rows * C / 4 loads in all) stay balanced.
const MAX_LANES = 256;
/** Rows a lane adds into one block sum before adding the block to its total (shaders/batchnorm.wgsl BLOCK). */
const BLOCK = 32;

/** How the per-channel row reductions are split; the validation derives its rounding bounds from it. */
export interface BatchNormPlan {
  rows: number;
  channels: number;
  /** Row ranges per channel: one invocation each, and the partial sums per channel. */
  lanes: number;
  rowsPerLane: number;
  /** Longest chain of f32 additions behind any per-channel sum. */
  chainLength: number;
}

export function batchNormPlan(shape: readonly number[]): BatchNormPlan {
  if (shape.length !== 4) throw new Error(`batch-norm takes NHWC activations [N, H, W, C], got [${shape.join(', ')}]`);
  const channels = shape[3];
  const rows = shape[0] * shape[1] * shape[2];
  const wanted = Math.min(MAX_LANES, Math.max(1, Math.ceil(Math.sqrt(rows) / 2)));
  const rowsPerLane = Math.max(1, Math.ceil(rows / wanted));
  const lanes = Math.max(1, Math.ceil(rows / rowsPerLane));
  // In a lane: BLOCK - 1 additions inside a block, one into the total, ceil(rowsPerLane / BLOCK) - 1 after it;
  // then lanes - 1 additions across the partials.
  const chainLength = Math.min(BLOCK, rowsPerLane) + Math.ceil(rowsPerLane / BLOCK) + lanes;
  return { rows, channels, lanes, rowsPerLane, chainLength };
}

/** Channels four at a time when C allows: an invocation then owns four neighbouring channels. */
const channelWidth = (C: number) => widthFor(C % 4 === 0);

function params(plan: BatchNormPlan, layout: Width, eps = 0, momentum = 0) {
  const { rows, channels, lanes, rowsPerLane } = plan;
  return { rows, channels: channels / layout.width, lanes, rowsPerLane, invCount: 1 / rows, eps, momentum, unbias: rows > 1 ? rows / (rows - 1) : 0 };
}

function checkChannels(name: string, t: Tensor, channels: number): void {
  if (t.size !== channels) throw new Error(`batch-norm: ${name} has ${t.size} elements, expected one per channel (${channels})`);
}

/** Per-lane partial sums ([lanes, C]) of x ('sum_partial'), or of (x - mean)^2 given the sums of x ('sqdev_partial'). */
function laneSums(rt: Runtime, plan: BatchNormPlan, layout: Width, x: Tensor, entry: 'sum_partial' | 'sqdev_partial', sumsIn?: Tensor): Tensor {
  const partial = Tensor.empty(rt, [plan.lanes, plan.channels]);
  const io = widthBindings(layout, { x: [x, x.size], partial: [partial, partial.size], ...(sumsIn ? { sumsIn: [sumsIn, partial.size] as [Tensor, number] } : {}) });
  rt.launch({
    shader: 'batchnorm', entry: entry + layout.suffix, ...io,
    uniforms: params(plan, layout), invocations: plan.lanes * plan.channels / layout.width,
  });
  return partial;
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
  const layout = channelWidth(C);
  const mean = Tensor.empty(rt, [C]);
  const invStd = Tensor.empty(rt, [C]);
  const y = Tensor.empty(rt, x.shape);

  rt.scope(() => {
    const sums = laneSums(rt, plan, layout, x, 'sum_partial');
    const squares = laneSums(rt, plan, layout, x, 'sqdev_partial', sums);
    rt.launch({
      shader: 'batchnorm', entry: 'normalize' + layout.suffix, overrides: { RELU: relu },
      ...widthBindings(layout, {
        x: [x, x.size], sumsIn: [sums, sums.size], squaresIn: [squares, squares.size], gamma: [gamma, C], beta: [beta, C], y: [y, y.size],
        meanOut: [mean, C], invStdOut: [invStd, C], runningMean: [runningMean, C], runningVar: [runningVar, C],
      }),
      uniforms: params(plan, layout, eps, momentum), invocations: plan.lanes * C / layout.width,
    });
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
  const layout = channelWidth(C);
  x.rt.launch({
    shader: 'batchnorm', entry: 'normalize_eval' + layout.suffix, overrides: { RELU: relu },
    ...widthBindings(layout, { x: [x, x.size], mean: [runningMean, C], variance: [runningVar, C], gamma: [gamma, C], beta: [beta, C], y: [y, y.size] }),
    uniforms: params(plan, layout, eps), invocations: plan.lanes * C / layout.width,
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
  const layout = channelWidth(C);
  const uniforms = params(plan, layout);
  const invocations = plan.lanes * C / layout.width;
  const dgamma = Tensor.empty(rt, [C]);
  const dbeta = Tensor.empty(rt, [C]);
  const dx = Tensor.empty(rt, x.shape);
  rt.scope(() => {
    // Two floats per (lane, channel): vec2 elements of the float entries, halves of vec4 pairs of the others.
    const gradSums = Tensor.empty(rt, [plan.lanes, C, 2]);
    const sumsBound: [Tensor, number] = [gradSums, layout.width === 1 ? plan.lanes * C : 2 * plan.lanes * C];
    const inputs = { dy: [dy, dy.size], gate: [gate, gate.size], x: [x, x.size], mean: [mean, C], invStd: [invStd, C] } as Record<string, [Tensor, number]>;
    rt.launch({
      shader: 'batchnorm', entry: 'grad_partial' + layout.suffix, overrides,
      ...widthBindings(layout, { ...inputs, gradPartial: sumsBound }), uniforms, invocations,
    });
    rt.launch({
      shader: 'batchnorm', entry: 'grad_input' + layout.suffix, overrides,
      ...widthBindings(layout, { ...inputs, gamma: [gamma, C], gradSumsIn: sumsBound, dx: [dx, dx.size], dbeta: [dbeta, C], dgamma: [dgamma, C] }),
      uniforms, invocations,
    });
  });
  return { dx, dgamma, dbeta };
}
