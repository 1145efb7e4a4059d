// Optimizer steps (SGD with momentum, AdamW) and the gradient global norm as flat kernels over one contiguous
// buffer each of weights, gradients and optimizer state (see shaders/optimizer.wgsl).
import { Tensor } from '../tensor.ts';
import { fill } from './fill.ts';
import { widthBindings, widthFor } from './vec4-twin.ts';

export interface SgdConfig {
  lr: number;
  /** 0 (default) keeps no state: no momentum buffer is read or written. */
  momentum?: number;
  nesterov?: boolean;
  weightDecay?: number;
  /** false (default, PyTorch's SGD): g += wd * w. true: w *= 1 - lr * wd before the update. */
  decoupledWeightDecay?: boolean;
}

export interface AdamWConfig {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  /** true (default, AdamW): w *= 1 - lr * wd. false: Adam's L2 decay, g += wd * w. */
  decoupledWeightDecay?: boolean;
}

export const SGD_DEFAULTS = { momentum: 0, nesterov: false, weightDecay: 0, decoupledWeightDecay: false };
export const ADAMW_DEFAULTS = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, decoupledWeightDecay: true };

export interface StepOptions {
  /** Multiplies every gradient (1 / loss scale, 1 / accumulation steps, or a clip factor known on the CPU). */
  gradScale?: number;
  /**
   * Clips on the GPU: the gradient is multiplied by min(1, maxNorm / (gradScale * norm + 1e-6)) with `norm` the
   * [1] tensor from gradNorm (PyTorch's clip_grad_norm_). A non-finite norm skips the step.
   */
  clip?: { norm: Tensor; maxNorm: number };
  /** Elements [start, end) receive weight decay; all of them by default. */
  decayRange?: readonly [number, number];
}

const WG = 256;

/** The flat buffers as vec4s when their length allows (the trainer's always does), else as floats. */
function flatLayout(n: number, buffers: Record<string, Tensor>) {
  const w = widthFor(n % 4 === 0);
  return { suffix: w.suffix, count: n / w.width, ...widthBindings(w, Object.fromEntries(Object.entries(buffers).map(([name, t]) => [name, [t, n]]))) };
}

function checkSizes(what: string, weights: Tensor, tensors: Record<string, Tensor>): void {
  if (weights.dtype !== 'f32') throw new Error(`${what}: weights must be f32, got ${weights.dtype}`);
  for (const [name, t] of Object.entries(tensors)) {
    if (t.size !== weights.size || t.dtype !== 'f32') {
      throw new Error(`${what}: ${name} holds ${t.size} ${t.dtype} elements but the weights hold ${weights.size} f32`);
    }
  }
}

function commonUniforms(n: number, options: StepOptions) {
  const [decayStart, decayEnd] = options.decayRange ?? [0, n];
  if (!(Number.isInteger(decayStart) && Number.isInteger(decayEnd) && decayStart >= 0 && decayStart <= decayEnd && decayEnd <= n)) {
    throw new Error(`decayRange [${decayStart}, ${decayEnd}) is not a range inside [0, ${n})`);
  }
  const clip = options.clip;
  if (clip && (clip.norm.size !== 1 || clip.norm.dtype !== 'f32')) throw new Error(`clip.norm must be a [1] f32 tensor (from gradNorm), got [${clip.norm.shape}] ${clip.norm.dtype}`);
  if (clip && !(clip.maxNorm > 0)) throw new Error(`clip.maxNorm must be positive, got ${clip.maxNorm}`);
  return {
    // Without clipping the norm bound is a 0 (noClipNorm) and maxNorm +inf: the kernels' clip factor is exactly 1.
    n, decayStart, decayEnd, gradScale: options.gradScale ?? 1, maxNorm: clip?.maxNorm ?? Infinity,
    // Unused by the entry point at hand, but the uniform struct is shared.
    l2Decay: 0, decoupledFactor: 1, momentum: 0, lr: 0, beta1: 0, oneMinusBeta1: 0, beta2: 0, oneMinusBeta2: 0, eps: 0, stepSize: 0, biasCorrection2Sqrt: 1,
  };
}

/** Runs `launch` with the norm the step reads: the clip's, or without clipping a [1] zero (the factor is then 1). */
function withNorm(weights: Tensor, options: StepOptions, launch: (norm: Tensor) => void): void {
  if (options.clip) return launch(options.clip.norm);
  // A clear, not an upload: a queue write would submit the step's recorded work early.
  weights.rt.scope(() => launch(fill(Tensor.empty(weights.rt, [1]), 0)));
}

/** One SGD step, in place on `weights` (and `momentumBuf`, zero-filled before the first step). */
export function sgdStep(weights: Tensor, grads: Tensor, momentumBuf: Tensor | null, config: SgdConfig, options: StepOptions = {}): void {
  const c = { ...SGD_DEFAULTS, ...config };
  const usesMomentum = c.momentum !== 0;
  if (usesMomentum && !momentumBuf) throw new Error('sgdStep: momentum needs a momentum buffer');
  if (c.nesterov && !usesMomentum) throw new Error('sgdStep: Nesterov needs a momentum');
  checkSizes('sgdStep', weights, usesMomentum ? { grads, momentumBuf: momentumBuf! } : { grads });
  const n = weights.size;
  if (n === 0) return;
  const uniforms = {
    ...commonUniforms(n, options), lr: c.lr, momentum: c.momentum,
    l2Decay: c.decoupledWeightDecay ? 0 : c.weightDecay,
    decoupledFactor: c.decoupledWeightDecay ? 1 - c.lr * c.weightDecay : 1,
  };
  const flat = flatLayout(n, { weights, grads, ...(usesMomentum ? { momentumBuf: momentumBuf! } : {}) });
  withNorm(weights, options, (gradNorm) => weights.rt.launch({
    shader: 'optimizer', entry: (usesMomentum ? 'sgd_momentum' : 'sgd') + flat.suffix, overrides: usesMomentum ? { NESTEROV: c.nesterov } : {},
    bindings: { ...flat.bindings, gradNorm }, needs: { ...flat.needs, gradNorm: 1 },
    uniforms: { ...uniforms, n: flat.count }, elements: flat.count,
  }));
}

export interface AdamWState { expAvg: Tensor; expAvgSq: Tensor }

/** One AdamW step number `step` (1 for the first), in place on `weights` and `state` (zero-filled at the start). */
export function adamwStep(weights: Tensor, grads: Tensor, state: AdamWState, step: number, config: AdamWConfig, options: StepOptions = {}): void {
  const c = { ...ADAMW_DEFAULTS, ...config };
  if (!(Number.isInteger(step) && step >= 1)) throw new Error(`adamwStep: step must be an integer >= 1, got ${step}`);
  checkSizes('adamwStep', weights, { grads, expAvg: state.expAvg, expAvgSq: state.expAvgSq });
  const n = weights.size;
  if (n === 0) return;
  // Bias corrections in float64 on the CPU: WGSL's pow loses accuracy as beta^t underflows.
  const biasCorrection1 = 1 - c.beta1 ** step;
  const biasCorrection2 = 1 - c.beta2 ** step;
  const uniforms = {
    ...commonUniforms(n, options), lr: c.lr,
    beta1: c.beta1, oneMinusBeta1: 1 - c.beta1, beta2: c.beta2, oneMinusBeta2: 1 - c.beta2, eps: c.eps,
    stepSize: c.lr / biasCorrection1, biasCorrection2Sqrt: Math.sqrt(biasCorrection2),
    l2Decay: c.decoupledWeightDecay ? 0 : c.weightDecay,
    decoupledFactor: c.decoupledWeightDecay ? 1 - c.lr * c.weightDecay : 1,
  };
  const flat = flatLayout(n, { weights, grads, expAvg: state.expAvg, expAvgSq: state.expAvgSq });
  withNorm(weights, options, (gradNorm) => weights.rt.launch({
    shader: 'optimizer', entry: 'adamw' + flat.suffix,
    bindings: { ...flat.bindings, gradNorm }, needs: { ...flat.needs, gradNorm: 1 },
    uniforms: { ...uniforms, n: flat.count }, elements: flat.count,
  }));
}

/** Workgroups of the norm's first stage: enough to fill a GPU, few enough that one workgroup adds them up. */
/**
 * Workgroups of the norm's first stage: up to 1024 on GPUs; 64 on CPU adapters, where each costs a fixed
 * start-up and its 8-lane groups then walk long contiguous runs (shaders/lib/flat_span.wgsl).
 */
export function normPartials(n: number, software: boolean): number {
  return Math.max(1, Math.min(software ? 64 : 1024, Math.ceil(n / WG)));
}

export interface GradNorm {
  /** [1] f32: sqrt(sum g^2) over the finite gradients, NaN when any gradient is not finite. */
  norm: Tensor;
  /** [1] u32: how many gradients are NaN or infinite. */
  nonFinite: Tensor;
}

/** The global L2 norm of a flat gradient buffer, on the GPU (feed `norm` to a step's `clip`). */
export function gradNorm(grads: Tensor): GradNorm {
  if (grads.dtype !== 'f32') throw new Error(`gradNorm: gradients must be f32, got ${grads.dtype}`);
  const rt = grads.rt;
  const n = grads.size;
  const partials = normPartials(n, rt.ctx.software);
  const partialSums = Tensor.empty(rt, [partials]);
  const partialNonFinite = Tensor.empty(rt, [partials], 'u32');
  const norm = Tensor.empty(rt, [1]);
  const nonFinite = Tensor.empty(rt, [1], 'u32');
  const flat = flatLayout(n, { grads });
  rt.launch({
    shader: 'optimizer', entry: 'norm_partial' + flat.suffix, bindings: { ...flat.bindings, partialSums, partialNonFinite },
    needs: { ...flat.needs, partialSums: partials, partialNonFinite: partials }, uniforms: { n: flat.count, partials }, workgroups: partials,
  });
  rt.launch({
    shader: 'optimizer', entry: 'norm_final',
    bindings: { partialSumsIn: partialSums, partialNonFiniteIn: partialNonFinite, norm, nonFinite },
    needs: { partialSumsIn: partials, partialNonFiniteIn: partials, norm: 1, nonFinite: 1 }, uniforms: { n, partials }, workgroups: 1,
  });
  partialSums.dispose();
  partialNonFinite.dispose();
  return { norm, nonFinite };
}
