// Validation cases of the gradient norm and the optimizer steps (SGD, AdamW) against the float64 reference,
// under |got - ref| <= atol + rtol * |ref| (or per-element bounds), derived from WGSL's accuracy rules (h = 2^-24,
// the unit roundoff; see loss.ts) and from the order in which each kernel adds. Uniforms are f32, so every
// hyperparameter carries one more rounding (h).
import { Tensor } from '../tensor.ts';
import type { Tolerance } from '../reference/compare.ts';
import { define, HALF_ULP, inputs, joinOutputs, take, withinBounds, type CaseOutput, type ValidationCase } from './define.ts';
import { adamwStep, ADAMW_DEFAULTS, gradNorm, normPartials, sgdStep, SGD_DEFAULTS, type AdamWConfig, type SgdConfig } from '../ops/optimizer.ts';
import { adamwReferenceStep, gradientFactor, gradNormReference, sgdReferenceStep, type ReferenceStepOptions } from '../reference/optimizer.ts';

const h = HALF_ULP;
const EXACT: Tolerance = { atol: 0, rtol: 0 };

// ---- gradient norm ----------------------------------------------------------------------------------------------
/**
 * Relative bound of the two-stage norm: a square rounds once (h), each invocation adds ceil(n / (256 partials))
 * squares in sequence (3 more when it walks vec4s, n a multiple of 4), a 256-way tree adds 8 levels, stage 2 adds ceil(partials / 256) in sequence and 8 levels;
 * all terms are non-negative, so the sum is within (that depth) h relative, its sqrt within half of it plus 5h.
 * The deeper of the two plans (GPU and CPU adapters split the first stage differently) bounds either.
 */
export function gradNormRelativeBound(n: number): number {
  const depth = Math.max(...[false, true].map((software) => {
    const partials = normPartials(n, software);
    return 1 + Math.ceil(n / (256 * partials)) + 3 + 8 + Math.ceil(partials / 256) + 8;
  }));
  return (depth / 2 + 5) * h;
}

function gradNormCase(n: number, spread: number, poison: number[] = []): ValidationCase {
  return define('grad_norm', `n=${n} |g| < ${spread}${poison.length ? ` ${poison.length} non-finite` : ''}`, async (rt) => {
    const grads = inputs(n, -spread, spread);
    poison.forEach((at, k) => { grads[at] = [NaN, Infinity, -Infinity][k % 3]; });
    const tg = Tensor.upload(rt, grads);
    const { norm, nonFinite } = gradNorm(tg);
    const [gotNorm, gotCount] = [await take(norm), await take(nonFinite)];
    const ref = gradNormReference(grads);
    return joinOutputs([
      { got: gotNorm, ref: [ref.norm], tolerance: { atol: 0, rtol: gradNormRelativeBound(n) } },
      { got: gotCount, ref: [ref.nonFinite], tolerance: EXACT },
    ]);
  });
}

// ---- optimizer steps ------------------------------------------------------------------------------------------
// Each case runs several steps. Before every step the GPU's state is read back and the float64 reference takes
// one step from exactly that state, so every step is checked against its own rounding bound instead of against a
// trajectory that drifts apart. The bound is per element (first-order running error analysis of the kernel's
// operation order, below), checked element by element.

interface StepSetup { n: number; steps: number; gradSpread: number; gradScale?: number; maxNorm?: number; decayRange?: [number, number] }

/** Denormals may flush to zero on a GPU. */
const FLUSH = 2 ** -125;

/** |got - ref| <= bound, elementwise, over several outputs (errors reported in the outputs' own units). */
function withinAllBounds(parts: { got: ArrayLike<number>; ref: ArrayLike<number>; bound: ArrayLike<number> }[]): CaseOutput {
  return joinOutputs(parts.map((part) => withinBounds(part.got, part.ref, Float64Array.from(part.bound as ArrayLike<number>, (v) => Math.max(v, FLUSH)))));
}

/**
 * The gradient a step uses, G = g * gradScale * clip (+ l2 * w), and a bound on its error: gradScale's rounding
 * and the product gradScale * clip (2h), the product with g (h); with clipping, the GPU's norm (its relative bound)
 * and clip = maxNorm / (gradScale * norm + 1e-6) (two rounded uniforms, a product, a sum, a division: 10h);
 * L2 decay: a rounded uniform times w (2h) and the sum (h).
 */
function gradientWithBound(g: number, w: number, factor: number, factorRel: number, l2: number): [number, number] {
  const scaled = g * factor;
  const scaledErr = (factorRel + 3 * h) * Math.abs(scaled);
  if (l2 === 0) return [scaled, scaledErr];
  const G = scaled + l2 * w;
  return [G, scaledErr + 2 * h * Math.abs(l2 * w) + h * Math.abs(G)];
}

function factorRelativeBound(setup: StepSetup): number {
  return setup.maxNorm !== undefined ? gradNormRelativeBound(setup.n) + 10 * h : 0;
}

function decays(i: number, setup: StepSetup): boolean {
  const [start, end] = setup.decayRange ?? [0, setup.n];
  return i >= start && i < end;
}

/** w' = f w - lr d: f's rounding and the product (2h, when f != 1), lr's and its product (2h), the difference. */
function weightBound(w: number, f: number, lr: number, d: number, dErr: number, wNew: number): number {
  return (f !== 1 ? 2 * h * Math.abs(f * w) : 0) + 2 * h * Math.abs(lr * d) + Math.abs(lr) * dErr + h * Math.abs(wNew);
}

function sgdBounds(w: Float32Array, buf: Float32Array | null, g: Float32Array, config: SgdConfig, setup: StepSetup, next: { weights: Float64Array; momentumBuf: Float64Array | null }) {
  const c = { ...SGD_DEFAULTS, ...config };
  const factor = gradientFactor(g, setup);
  const weights = new Float64Array(setup.n), momentumBuf = new Float64Array(setup.n);
  if (factor === null) return { weights, momentumBuf };
  for (let i = 0; i < setup.n; i++) {
    const decay = decays(i, setup) ? c.weightDecay : 0;
    const [G, gErr] = gradientWithBound(g[i], w[i], factor, factorRelativeBound(setup), c.decoupledWeightDecay ? 0 : decay);
    let d = G, dErr = gErr;
    if (buf && next.momentumBuf) {
      // buf' = mu buf + G: mu's rounding and the product (2h), the sum (h).
      const b = next.momentumBuf[i];
      const bErr = 2 * h * Math.abs(c.momentum * buf[i]) + gErr + h * Math.abs(b);
      momentumBuf[i] = bErr;
      if (c.nesterov) { d = G + c.momentum * b; dErr = gErr + c.momentum * bErr + 2 * h * Math.abs(c.momentum * b) + h * Math.abs(d); } else { d = b; dErr = bErr; }
    }
    weights[i] = weightBound(w[i], c.decoupledWeightDecay ? 1 - c.lr * decay : 1, c.lr, d, dErr, next.weights[i]);
  }
  return { weights, momentumBuf };
}

/**
 * AdamW, following the kernel: m' = b1 m + (1 - b1) G; v' = b2 v + (1 - b2) G^2; D = sqrt(v') / c2 + eps;
 * w' = f w - stepSize * m' / D. Each rounded uniform and each + - * adds h of its result, / and sqrt 5h;
 * |sqrt(a) - sqrt(b)| <= min(|a - b| / sqrt(b), sqrt(|a - b|)) carries v's error through the root.
 */
function adamwBounds(w: Float32Array, m: Float32Array, v: Float32Array, g: Float32Array, step: number, config: AdamWConfig, setup: StepSetup, next: { weights: Float64Array; expAvg: Float64Array; expAvgSq: Float64Array }) {
  const c = { ...ADAMW_DEFAULTS, ...config };
  const factor = gradientFactor(g, setup);
  const weights = new Float64Array(setup.n), expAvg = new Float64Array(setup.n), expAvgSq = new Float64Array(setup.n);
  if (factor === null) return { weights, expAvg, expAvgSq };
  const stepSize = c.lr / (1 - c.beta1 ** step);
  const c2 = Math.sqrt(1 - c.beta2 ** step);
  for (let i = 0; i < setup.n; i++) {
    const decay = decays(i, setup) ? c.weightDecay : 0;
    const [G, gErr] = gradientWithBound(g[i], w[i], factor, factorRelativeBound(setup), c.decoupledWeightDecay ? 0 : decay);
    const mNew = next.expAvg[i], vNew = next.expAvgSq[i];
    const mErr = 2 * h * (Math.abs(c.beta1 * m[i]) + Math.abs((1 - c.beta1) * G)) + (1 - c.beta1) * gErr + h * Math.abs(mNew);
    const vErr = 2 * h * Math.abs(c.beta2 * v[i]) + (1 - c.beta2) * (2 * Math.abs(G) * gErr + gErr * gErr + 3 * h * G * G) + h * Math.abs(vNew);
    const root = Math.sqrt(vNew);
    const rootErr = (root > 0 ? Math.min(vErr / root, Math.sqrt(vErr)) : Math.sqrt(vErr)) + 5 * h * root;
    const q = root / c2;
    const qErr = rootErr / c2 + 6 * h * q;
    const D = q + c.eps;
    const DErr = qErr + h * c.eps + h * D;
    const r = mNew / D;
    const rErr = (mErr + Math.abs(r) * DErr) / (D - DErr) + 5 * h * Math.abs(r);
    const f = c.decoupledWeightDecay ? 1 - c.lr * decay : 1;
    // stepSize * r: the rounded uniform and the product (2h), then the difference.
    weights[i] = (f !== 1 ? 2 * h * Math.abs(f * w[i]) : 0) + 2 * h * Math.abs(stepSize * r) + stepSize * rErr + h * Math.abs(next.weights[i]);
    expAvg[i] = mErr;
    expAvgSq[i] = vErr;
  }
  return { weights, expAvg, expAvgSq };
}

function referenceOptions(setup: StepSetup): ReferenceStepOptions {
  return { gradScale: setup.gradScale, maxNorm: setup.maxNorm, decayRange: setup.decayRange };
}

function setupLabel(s: StepSetup): string {
  return `n=${s.n} ${s.steps} steps${s.gradScale !== undefined ? ` gradScale ${s.gradScale}` : ''}${s.maxNorm !== undefined ? ` clip ${s.maxNorm}` : ''}${s.decayRange ? ` decay [${s.decayRange}]` : ''}`;
}

function sgdCase(config: SgdConfig, setup: StepSetup): ValidationCase {
  const c = { ...SGD_DEFAULTS, ...config };
  const name = `${setupLabel(setup)} lr ${c.lr} momentum ${c.momentum}${c.nesterov ? ' nesterov' : ''} wd ${c.weightDecay}${c.decoupledWeightDecay ? ' decoupled' : ''}`;
  return define('optim.sgd', name, async (rt) => {
    const n = setup.n;
    const weights = Tensor.upload(rt, inputs(n));
    const momentumBuf = c.momentum !== 0 ? Tensor.upload(rt, new Float32Array(n)) : null;
    const parts: { got: ArrayLike<number>; ref: ArrayLike<number>; bound: ArrayLike<number> }[] = [];
    for (let step = 1; step <= setup.steps; step++) {
      const g = inputs(n, -setup.gradSpread, setup.gradSpread);
      const grads = Tensor.upload(rt, g);
      const before = { weights: await weights.download() as Float32Array, momentumBuf: momentumBuf ? await momentumBuf.download() as Float32Array : null };
      const norm = setup.maxNorm !== undefined ? gradNorm(grads) : null;
      sgdStep(weights, grads, momentumBuf, config, { gradScale: setup.gradScale, decayRange: setup.decayRange, clip: norm ? { norm: norm.norm, maxNorm: setup.maxNorm! } : undefined });
      const after = { weights: await weights.download(), momentumBuf: momentumBuf ? await momentumBuf.download() : null };
      const ref = sgdReferenceStep({ weights: Float64Array.from(before.weights), momentumBuf: before.momentumBuf ? Float64Array.from(before.momentumBuf) : null }, g, config, referenceOptions(setup));
      const bound = sgdBounds(before.weights, before.momentumBuf, g, config, setup, ref);
      parts.push({ got: after.weights, ref: ref.weights, bound: bound.weights });
      if (after.momentumBuf && ref.momentumBuf) parts.push({ got: after.momentumBuf, ref: ref.momentumBuf, bound: bound.momentumBuf });
    }
    return withinAllBounds(parts);
  });
}

function adamwCase(config: AdamWConfig, setup: StepSetup): ValidationCase {
  const c = { ...ADAMW_DEFAULTS, ...config };
  const name = `${setupLabel(setup)} lr ${c.lr} betas (${c.beta1}, ${c.beta2}) eps ${c.eps} wd ${c.weightDecay}${c.decoupledWeightDecay ? '' : ' L2'}`;
  return define('optim.adamw', name, async (rt) => {
    const n = setup.n;
    const weights = Tensor.upload(rt, inputs(n));
    const state = { expAvg: Tensor.upload(rt, new Float32Array(n)), expAvgSq: Tensor.upload(rt, new Float32Array(n)) };
    const parts: { got: ArrayLike<number>; ref: ArrayLike<number>; bound: ArrayLike<number> }[] = [];
    for (let step = 1; step <= setup.steps; step++) {
      const g = inputs(n, -setup.gradSpread, setup.gradSpread);
      const grads = Tensor.upload(rt, g);
      const [w, m, v] = [await weights.download(), await state.expAvg.download(), await state.expAvgSq.download()] as Float32Array[];
      const norm = setup.maxNorm !== undefined ? gradNorm(grads) : null;
      adamwStep(weights, grads, state, step, config, { gradScale: setup.gradScale, decayRange: setup.decayRange, clip: norm ? { norm: norm.norm, maxNorm: setup.maxNorm! } : undefined });
      const [w2, m2, v2] = [await weights.download(), await state.expAvg.download(), await state.expAvgSq.download()];
      const ref = adamwReferenceStep({ weights: Float64Array.from(w), expAvg: Float64Array.from(m), expAvgSq: Float64Array.from(v) }, g, step, config, referenceOptions(setup));
      const bound = adamwBounds(w, m, v, g, step, config, setup, ref);
      parts.push({ got: w2, ref: ref.weights, bound: bound.weights }, { got: m2, ref: ref.expAvg, bound: bound.expAvg }, { got: v2, ref: ref.expAvgSq, bound: bound.expAvgSq });
    }
    return withinAllBounds(parts);
  });
}

export const SGD_CASES: [SgdConfig, StepSetup][] = [
  [{ lr: 0.1 }, { n: 1, steps: 3, gradSpread: 1 }],
  [{ lr: 0.05, momentum: 0.9, weightDecay: 1e-2 }, { n: 7, steps: 5, gradSpread: 1 }],
  [{ lr: 0.02, momentum: 0.9, nesterov: true, weightDecay: 0.05, decoupledWeightDecay: true }, { n: 1000, steps: 5, gradSpread: 1, gradScale: 0.5 }],
  [{ lr: 0.1, momentum: 0.9, weightDecay: 5e-4 }, { n: 65537, steps: 4, gradSpread: 1, maxNorm: 1 }],
  [{ lr: 0.01, momentum: 0.5, weightDecay: 0.1 }, { n: 1000, steps: 5, gradSpread: 2, maxNorm: 1e3, decayRange: [100, 900] }],
  [{ lr: 0.3, weightDecay: 0.01, decoupledWeightDecay: true }, { n: 7, steps: 4, gradSpread: 1, maxNorm: 0.5, gradScale: 2 }],
  // A flat pass long enough that each lane walks several elements on a CPU adapter (above 64 x 256), not a
  // multiple of 8, with a decay range that starts and ends inside a lane's run: the training step's entry.
  [{ lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 5e-4 }, { n: 40009, steps: 3, gradSpread: 1, decayRange: [1003, 39001] }],
  // Lengths that are multiples of 4 run the vec4 entries (the trainer's buffers): decay ranges that start and end
  // inside a vec4, clipping, and each step kind.
  [{ lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 5e-4 }, { n: 40008, steps: 3, gradSpread: 1, decayRange: [1003, 39001] }],
  [{ lr: 0.1, weightDecay: 0.01 }, { n: 4, steps: 3, gradSpread: 1, decayRange: [1, 3] }],
  [{ lr: 0.1, momentum: 0.9, weightDecay: 5e-4, decoupledWeightDecay: true }, { n: 65536, steps: 4, gradSpread: 1, maxNorm: 1, gradScale: 0.5 }],
];

export const ADAMW_CASES: [AdamWConfig, StepSetup][] = [
  [{ lr: 1e-3 }, { n: 1, steps: 3, gradSpread: 1 }],
  [{ lr: 1e-2, weightDecay: 0 }, { n: 7, steps: 5, gradSpread: 1 }],
  [{ lr: 3e-3, beta1: 0.8, beta2: 0.99, weightDecay: 0.1 }, { n: 1000, steps: 5, gradSpread: 1, decayRange: [0, 640] }],
  [{ lr: 3e-3 }, { n: 65537, steps: 4, gradSpread: 1, maxNorm: 1 }],
  [{ lr: 1e-3, weightDecay: 0.01, decoupledWeightDecay: false }, { n: 1000, steps: 5, gradSpread: 1, gradScale: 0.25 }],
  // Gradients near eps: the denominator's eps term matters.
  [{ lr: 1e-2, eps: 1e-6 }, { n: 7, steps: 5, gradSpread: 1e-6 }],
  [{ lr: 3e-3, weightDecay: 0.01 }, { n: 40009, steps: 3, gradSpread: 1, decayRange: [1003, 39001] }],
  [{ lr: 3e-3, weightDecay: 0.01 }, { n: 40008, steps: 3, gradSpread: 1, decayRange: [1002, 39001], maxNorm: 1 }],
  [{ lr: 1e-3, weightDecay: 0.01, decoupledWeightDecay: false }, { n: 8, steps: 5, gradSpread: 1, decayRange: [3, 5] }],
];

export function optimizerCases(): ValidationCase[] {
  return [
    ...[1, 2, 4, 7, 255, 256, 257, 1000, 65537, 262145, 262144, 1_000_000].map((n) => gradNormCase(n, 1)),
    gradNormCase(4099, 1e3),
    gradNormCase(1000, 1, [3, 500, 999]),
    gradNormCase(1001, 1, [3, 500, 999]),
    ...SGD_CASES.map(([config, setup]) => sgdCase(config, setup)),
    ...ADAMW_CASES.map(([config, setup]) => adamwCase(config, setup)),
  ];
}
