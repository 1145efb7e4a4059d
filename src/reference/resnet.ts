// float64 reference of the whole ResNet-18 family network (torchvision's resnet18: BasicBlock, layers
// [2, 2, 2, 2]), forward and backward, wired from the per-kernel references so that it checks the GPU model's
// wiring (names, layouts, strides, shortcuts, batch-norm modes) rather than re-deriving each kernel's math.
// Layouts: activations NHWC, conv weights OHWI [Cout, KH, KW, Cin], fc.weight [classes, features].
import { convGeometry, type ConvGeometry } from '../ops/conv.ts';
import { convBackwardInputReference, convBackwardWeightReference, convForwardReference } from './conv.ts';
import { batchNormBackwardReference, batchNormEvalReference, batchNormTrainReference } from './batchnorm.ts';
import { globalAvgPoolBackwardReference, globalAvgPoolReference, maxPool2dBackwardReference, maxPool2dReference } from './pool.ts';
import { addReluReference, reluBackwardReference } from './relu.ts';
import { linearBackwardReference, linearReference } from './linear.ts';
import { softmaxCrossEntropyBackwardReference, softmaxCrossEntropyReference } from './loss.ts';

export type ResnetStem = 'imagenet' | 'cifar';

export interface ReferenceResnetConfig {
  /** 'imagenet': 7x7/2 conv + 3x3/2 max-pool; 'cifar': 3x3/1 conv, no max-pool. */
  stem: ResnetStem;
  /** Width multiplier: stage widths are b, 2b, 4b, 8b with b = max(1, round(64 * width)). */
  width: number;
  inChannels: number;
  classes: number;
}

export type ResnetParamKind =
  | 'conv' | 'bn_weight' | 'bn_bias' | 'running_mean' | 'running_var' | 'num_batches_tracked' | 'fc_weight' | 'fc_bias';

export interface ResnetParamSpec {
  /** torchvision's state_dict key. */
  name: string;
  /** Our layout (conv OHWI); [] for the scalar num_batches_tracked. */
  shape: number[];
  kind: ResnetParamKind;
  /** Has a gradient (torchvision's named_parameters); the rest are buffers. */
  trainable: boolean;
}

export interface ReferenceResnetOptions extends ReferenceResnetConfig {
  /** Batch statistics (and running-stat updates) when true, running statistics when false. */
  training: boolean;
  /** PyTorch's label_smoothing of cross_entropy; default 0. */
  labelSmoothing?: number;
}

export interface ReferenceResnetForward {
  /** [N, classes]. */
  logits: Float64Array;
  /** Mean cross-entropy over the batch. */
  loss: number;
  /**
   * `<bn>.running_mean` and `<bn>.running_var` for every batch-norm: updated with momentum 0.1 and the unbiased
   * batch variance in training mode, copies of the inputs in eval mode. num_batches_tracked is not reported.
   */
  runningStats: Map<string, Float64Array>;
}

export interface ReferenceResnetResult extends ReferenceResnetForward {
  /** d loss / d parameter for the trainable parameters only (conv, bn weight and bias, fc), in their layouts. */
  grads: Map<string, Float64Array>;
}

export const BN_EPS = 1e-5;
export const BN_MOMENTUM = 0.1;

/** Stage widths [b, 2b, 4b, 8b], b = max(1, round(64 * width)). */
export function resnetWidths(width: number): [number, number, number, number] {
  const base = Math.max(1, Math.round(64 * width));
  return [base, 2 * base, 4 * base, 8 * base];
}

// ---- architecture -----------------------------------------------------------------------------------------

interface ConvBn { conv: string; bn: string; inC: number; outC: number; kernel: number; stride: number; pad: number }
interface Block { a: ConvBn; b: ConvBn; downsample: ConvBn | null }
interface Architecture { stem: ConvBn; maxPool: boolean; blocks: Block[]; features: number; classes: number }

function architecture(config: ReferenceResnetConfig): Architecture {
  const widths = resnetWidths(config.width);
  const imagenet = config.stem === 'imagenet';
  if (!imagenet && config.stem !== 'cifar') throw new Error(`resnet reference: unknown stem '${config.stem}'`);
  const stem: ConvBn = { conv: 'conv1', bn: 'bn1', inC: config.inChannels, outC: widths[0], kernel: imagenet ? 7 : 3, stride: imagenet ? 2 : 1, pad: imagenet ? 3 : 1 };
  const blocks: Block[] = [];
  let inC = widths[0];
  for (let stage = 0; stage < 4; stage++) {
    const planes = widths[stage];
    for (let i = 0; i < 2; i++) {
      const stride = stage > 0 && i === 0 ? 2 : 1;
      const prefix = `layer${stage + 1}.${i}`;
      blocks.push({
        a: { conv: `${prefix}.conv1`, bn: `${prefix}.bn1`, inC, outC: planes, kernel: 3, stride, pad: 1 },
        b: { conv: `${prefix}.conv2`, bn: `${prefix}.bn2`, inC: planes, outC: planes, kernel: 3, stride: 1, pad: 1 },
        downsample: stride !== 1 || inC !== planes
          ? { conv: `${prefix}.downsample.0`, bn: `${prefix}.downsample.1`, inC, outC: planes, kernel: 1, stride, pad: 0 }
          : null,
      });
      inC = planes;
    }
  }
  return { stem, maxPool: imagenet, blocks, features: widths[3], classes: config.classes };
}

function convBnSpec(u: ConvBn): ResnetParamSpec[] {
  const c = [u.outC];
  return [
    { name: `${u.conv}.weight`, shape: [u.outC, u.kernel, u.kernel, u.inC], kind: 'conv', trainable: true },
    { name: `${u.bn}.weight`, shape: c, kind: 'bn_weight', trainable: true },
    { name: `${u.bn}.bias`, shape: c, kind: 'bn_bias', trainable: true },
    { name: `${u.bn}.running_mean`, shape: c, kind: 'running_mean', trainable: false },
    { name: `${u.bn}.running_var`, shape: c, kind: 'running_var', trainable: false },
    { name: `${u.bn}.num_batches_tracked`, shape: [], kind: 'num_batches_tracked', trainable: false },
  ];
}

/** Every state_dict entry in torchvision's order (parameters and buffers of each module, modules in order). */
export function referenceResnetSpec(config: ReferenceResnetConfig): ResnetParamSpec[] {
  const arch = architecture(config);
  const spec = convBnSpec(arch.stem);
  for (const block of arch.blocks) {
    spec.push(...convBnSpec(block.a), ...convBnSpec(block.b));
    if (block.downsample) spec.push(...convBnSpec(block.downsample));
  }
  spec.push(
    { name: 'fc.weight', shape: [arch.classes, arch.features], kind: 'fc_weight', trainable: true },
    { name: 'fc.bias', shape: [arch.classes], kind: 'fc_bias', trainable: true },
  );
  return spec;
}

export function specSize(entry: ResnetParamSpec): number {
  return entry.shape.reduce((a, b) => a * b, 1);
}

// ---- forward with saved state, and the reverse pass ---------------------------------------------------------

type Params = ReadonlyMap<string, ArrayLike<number>>;

interface Activation { data: Float64Array; shape: number[] }

/** What one conv -> batch-norm unit's backward needs. */
interface ConvBnSaved { unit: ConvBn; x: Float64Array; g: ConvGeometry; z: Float64Array; mean: ArrayLike<number>; invStd: ArrayLike<number> }

interface BlockSaved { a: ConvBnSaved; hidden: Float64Array; b: ConvBnSaved; downsample: ConvBnSaved | null; out: Float64Array }

interface Saved {
  stem: ConvBnSaved; stemOut: Activation;
  pool: { argmax: Uint32Array; outShape: number[] } | null;
  blocks: BlockSaved[];
  last: Activation; pooled: Float64Array; logits: Float64Array;
}

function param(params: Params, name: string, size: number): ArrayLike<number> {
  const value = params.get(name);
  if (!value) throw new Error(`resnet reference: missing parameter ${name}`);
  if (value.length !== size) throw new Error(`resnet reference: ${name} has ${value.length} values, expected ${size}`);
  return value;
}

function convBnForward(u: ConvBn, x: Activation, params: Params, training: boolean, runningStats: Map<string, Float64Array>): { y: Activation; saved: ConvBnSaved } {
  const wShape = [u.outC, u.kernel, u.kernel, u.inC];
  const g = convGeometry(x.shape, wShape, { stride: u.stride, padding: u.pad });
  const w = param(params, `${u.conv}.weight`, g.Cout * g.K);
  const z = convForwardReference(x.data, w, null, g);
  const C = u.outC;
  const gamma = param(params, `${u.bn}.weight`, C), beta = param(params, `${u.bn}.bias`, C);
  const runningMean = param(params, `${u.bn}.running_mean`, C), runningVar = param(params, `${u.bn}.running_var`, C);
  const shape = [g.N, g.Ho, g.Wo, C];
  if (training) {
    // As PyTorch: the unbiased running variance is undefined for a single value per channel.
    if (g.M < 2) throw new Error(`resnet reference: ${u.bn} in training mode needs more than 1 value per channel, got input [${shape}]`);
    const bn = batchNormTrainReference(z, C, gamma, beta, runningMean, runningVar, BN_MOMENTUM, BN_EPS);
    runningStats.set(`${u.bn}.running_mean`, bn.runningMean);
    runningStats.set(`${u.bn}.running_var`, bn.runningVar);
    return { y: { data: bn.y, shape }, saved: { unit: u, x: x.data, g, z, mean: bn.mean, invStd: bn.invStd } };
  }
  runningStats.set(`${u.bn}.running_mean`, Float64Array.from(runningMean));
  runningStats.set(`${u.bn}.running_var`, Float64Array.from(runningVar));
  const invStd = Float64Array.from(runningVar, (v) => 1 / Math.sqrt(v + BN_EPS));
  const y = batchNormEvalReference(z, C, gamma, beta, runningMean, runningVar, BN_EPS);
  return { y: { data: y, shape }, saved: { unit: u, x: x.data, g, z, mean: runningMean, invStd } };
}

/**
 * Eval-mode batch-norm is a fixed per-channel affine map: dx = dy * gamma * invStd, dgamma = sum(dy * xhat),
 * dbeta = sum(dy), with xhat from the running statistics.
 */
export function batchNormEvalBackwardReference(
  dy: ArrayLike<number>, x: ArrayLike<number>, channels: number, gamma: ArrayLike<number>, mean: ArrayLike<number>, invStd: ArrayLike<number>,
): { dx: Float64Array; dgamma: Float64Array; dbeta: Float64Array } {
  const dx = new Float64Array(x.length), dgamma = new Float64Array(channels), dbeta = new Float64Array(channels);
  for (let i = 0; i < x.length; i++) {
    const c = i % channels;
    dx[i] = dy[i] * gamma[c] * invStd[c];
    dgamma[c] += dy[i] * (x[i] - mean[c]) * invStd[c];
    dbeta[c] += dy[i];
  }
  return { dx, dgamma, dbeta };
}

/** Stores the unit's gradients and returns dx (null when the input gradient is not wanted: the stem). */
function convBnBackward(s: ConvBnSaved, dy: Float64Array, params: Params, training: boolean, grads: Map<string, Float64Array>, wantInput: boolean): Float64Array | null {
  const { unit: u, g } = s;
  const gamma = params.get(`${u.bn}.weight`)!;
  const bn = (training ? batchNormBackwardReference : batchNormEvalBackwardReference)(dy, s.z, u.outC, gamma, s.mean, s.invStd);
  grads.set(`${u.bn}.weight`, bn.dgamma);
  grads.set(`${u.bn}.bias`, bn.dbeta);
  grads.set(`${u.conv}.weight`, convBackwardWeightReference(bn.dx, s.x, g));
  return wantInput ? convBackwardInputReference(bn.dx, params.get(`${u.conv}.weight`)!, g) : null;
}

function relu(x: Float64Array): Float64Array {
  return x.map((v) => Math.max(v, 0));
}

function forward(arch: Architecture, params: Params, input: ArrayLike<number>, inputShape: readonly number[], labels: ArrayLike<number>, options: ReferenceResnetOptions) {
  const [N, , , C] = inputShape;
  if (inputShape.length !== 4 || C !== arch.stem.inC) throw new Error(`resnet reference: input must be NHWC [N, H, W, ${arch.stem.inC}], got [${inputShape}]`);
  if (input.length !== inputShape.reduce((a, b) => a * b, 1)) throw new Error(`resnet reference: input has ${input.length} values for shape [${inputShape}]`);
  if (labels.length !== N) throw new Error(`resnet reference: ${labels.length} labels for a batch of ${N}`);
  const { training } = options;
  const runningStats = new Map<string, Float64Array>();

  const stem = convBnForward(arch.stem, { data: Float64Array.from(input), shape: [...inputShape] }, params, training, runningStats);
  const stemOut: Activation = { data: relu(stem.y.data), shape: stem.y.shape };
  let x = stemOut;
  let pool: Saved['pool'] = null;
  if (arch.maxPool) {
    const p = maxPool2dReference(x.data, x.shape, { kernel: [3, 3], stride: [2, 2], padding: [1, 1] });
    pool = { argmax: p.argmax, outShape: p.outShape };
    x = { data: p.y, shape: p.outShape };
  }

  const blocks: BlockSaved[] = [];
  for (const block of arch.blocks) {
    const a = convBnForward(block.a, x, params, training, runningStats);
    const hidden = relu(a.y.data);
    const b = convBnForward(block.b, { data: hidden, shape: a.y.shape }, params, training, runningStats);
    const shortcut = block.downsample ? convBnForward(block.downsample, x, params, training, runningStats) : null;
    const out = addReluReference(b.y.data, shortcut ? shortcut.y.data : x.data);
    blocks.push({ a: a.saved, hidden, b: b.saved, downsample: shortcut ? shortcut.saved : null, out });
    x = { data: out, shape: b.y.shape };
  }

  const pooled = globalAvgPoolReference(x.data, x.shape);
  const logits = linearReference(pooled, param(params, 'fc.weight', arch.classes * arch.features), param(params, 'fc.bias', arch.classes), { rows: N, inFeatures: arch.features, outFeatures: arch.classes });
  const loss = softmaxCrossEntropyReference(logits, labels, N, arch.classes, options.labelSmoothing ?? 0).mean;
  const saved: Saved = { stem: stem.saved, stemOut, pool, blocks, last: x, pooled, logits };
  return { logits, loss, runningStats, saved };
}

function backward(arch: Architecture, params: Params, saved: Saved, inputShape: readonly number[], labels: ArrayLike<number>, options: ReferenceResnetOptions): Map<string, Float64Array> {
  const N = inputShape[0];
  const { training } = options;
  const grads = new Map<string, Float64Array>();
  const dlogits = softmaxCrossEntropyBackwardReference(saved.logits, labels, N, arch.classes, options.labelSmoothing ?? 0, [1 / N]);
  const fc = linearBackwardReference(dlogits, saved.pooled, params.get('fc.weight')!, { rows: N, inFeatures: arch.features, outFeatures: arch.classes });
  grads.set('fc.weight', fc.dWeight);
  grads.set('fc.bias', fc.dBias);
  let dx = globalAvgPoolBackwardReference(fc.dx, saved.last.shape);

  for (let i = arch.blocks.length - 1; i >= 0; i--) {
    const s = saved.blocks[i];
    const dsum = reluBackwardReference(dx, s.out);
    const dhidden = reluBackwardReference(convBnBackward(s.b, dsum, params, training, grads, true)!, s.hidden);
    const dmain = convBnBackward(s.a, dhidden, params, training, grads, true)!;
    const dshortcut = s.downsample ? convBnBackward(s.downsample, dsum, params, training, grads, true)! : dsum;
    dx = dmain.map((v, j) => v + dshortcut[j]);
  }

  if (saved.pool) dx = maxPool2dBackwardReference(dx, saved.pool.argmax, saved.stemOut.shape, saved.pool.outShape);
  convBnBackward(saved.stem, reluBackwardReference(dx, saved.stemOut.data), params, training, grads, false);
  return grads;
}

/** Logits, mean loss and running statistics only (what a finite-difference check evaluates). */
export function referenceResnetForward(
  params: Params, input: ArrayLike<number>, inputShape: readonly number[], labels: ArrayLike<number>, options: ReferenceResnetOptions,
): ReferenceResnetForward {
  const { logits, loss, runningStats } = forward(architecture(options), params, input, inputShape, labels, options);
  return { logits, loss, runningStats };
}

/**
 * One forward and backward pass of the mean cross-entropy. `params` holds every state_dict entry of the spec
 * except num_batches_tracked (ignored if present); `input` is NHWC [N, H, W, inChannels].
 */
export function referenceResnetForwardBackward(
  params: Params, input: ArrayLike<number>, inputShape: readonly number[], labels: ArrayLike<number>, options: ReferenceResnetOptions,
): ReferenceResnetResult {
  const arch = architecture(options);
  const { logits, loss, runningStats, saved } = forward(arch, params, input, inputShape, labels, options);
  const grads = backward(arch, params, saved, inputShape, labels, options);
  return { logits, loss, runningStats, grads };
}
