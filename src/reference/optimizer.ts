// float64 references of the optimizer steps (PyTorch's SGD and AdamW semantics) and of the gradient global norm.
import { ADAMW_DEFAULTS, SGD_DEFAULTS, type AdamWConfig, type SgdConfig } from '../ops/optimizer.ts';

export interface ReferenceStepOptions {
  gradScale?: number;
  /** Clip by this reference's own norm of the gradients (times gradScale), as the GPU does with gradNorm's. */
  maxNorm?: number;
  decayRange?: readonly [number, number];
}

export function gradNormReference(grads: ArrayLike<number>): { norm: number; nonFinite: number } {
  let sum = 0, nonFinite = 0;
  for (let i = 0; i < grads.length; i++) {
    if (Number.isFinite(grads[i])) sum += grads[i] * grads[i];
    else nonFinite++;
  }
  return { norm: nonFinite > 0 ? NaN : Math.sqrt(sum), nonFinite };
}

/** The factor every gradient is multiplied by, or null when the step is skipped (a non-finite norm). */
export function gradientFactor(grads: ArrayLike<number>, options: ReferenceStepOptions): number | null {
  const gradScale = options.gradScale ?? 1;
  if (options.maxNorm === undefined) return gradScale;
  const { norm } = gradNormReference(grads);
  if (!Number.isFinite(norm)) return null;
  return gradScale * Math.min(1, options.maxNorm / (gradScale * norm + 1e-6));
}

function decays(i: number, n: number, options: ReferenceStepOptions): boolean {
  const [start, end] = options.decayRange ?? [0, n];
  return i >= start && i < end;
}

export interface SgdReferenceState { weights: Float64Array; momentumBuf: Float64Array | null }

/** One step on copies of the state. */
export function sgdReferenceStep(state: SgdReferenceState, grads: ArrayLike<number>, config: SgdConfig, options: ReferenceStepOptions = {}): SgdReferenceState {
  const c = { ...SGD_DEFAULTS, ...config };
  const weights = Float64Array.from(state.weights);
  const momentumBuf = c.momentum !== 0 ? Float64Array.from(state.momentumBuf ?? new Float64Array(weights.length)) : null;
  const factor = gradientFactor(grads, options);
  if (factor === null) return { weights, momentumBuf };
  for (let i = 0; i < weights.length; i++) {
    const w = weights[i];
    const decay = decays(i, weights.length, options) ? c.weightDecay : 0;
    const g = grads[i] * factor + (c.decoupledWeightDecay ? 0 : decay * w);
    let direction = g;
    if (momentumBuf) {
      momentumBuf[i] = c.momentum * momentumBuf[i] + g;
      direction = c.nesterov ? g + c.momentum * momentumBuf[i] : momentumBuf[i];
    }
    weights[i] = (c.decoupledWeightDecay ? (1 - c.lr * decay) * w : w) - c.lr * direction;
  }
  return { weights, momentumBuf };
}

export interface AdamWReferenceState { weights: Float64Array; expAvg: Float64Array; expAvgSq: Float64Array }

/** Step number `step` (from 1) on copies of the state. */
export function adamwReferenceStep(state: AdamWReferenceState, grads: ArrayLike<number>, step: number, config: AdamWConfig, options: ReferenceStepOptions = {}): AdamWReferenceState {
  const c = { ...ADAMW_DEFAULTS, ...config };
  const weights = Float64Array.from(state.weights);
  const expAvg = Float64Array.from(state.expAvg);
  const expAvgSq = Float64Array.from(state.expAvgSq);
  const factor = gradientFactor(grads, options);
  if (factor === null) return { weights, expAvg, expAvgSq };
  const biasCorrection1 = 1 - c.beta1 ** step;
  const biasCorrection2 = 1 - c.beta2 ** step;
  for (let i = 0; i < weights.length; i++) {
    const w = weights[i];
    const decay = decays(i, weights.length, options) ? c.weightDecay : 0;
    const g = grads[i] * factor + (c.decoupledWeightDecay ? 0 : decay * w);
    expAvg[i] = c.beta1 * expAvg[i] + (1 - c.beta1) * g;
    expAvgSq[i] = c.beta2 * expAvgSq[i] + (1 - c.beta2) * g * g;
    const mHat = expAvg[i] / biasCorrection1;
    const vHat = expAvgSq[i] / biasCorrection2;
    weights[i] = (c.decoupledWeightDecay ? (1 - c.lr * decay) * w : w) - c.lr * mHat / (Math.sqrt(vHat) + c.eps);
  }
  return { weights, expAvg, expAvgSq };
}
