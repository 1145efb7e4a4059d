// Validation cases of softmax cross-entropy (forward and the fused backward): each
// kernel against its float64 reference under |got - ref| <= atol + rtol * |ref|, the bounds derived below from
// WGSL's accuracy rules (h = 2^-24, the unit roundoff: + - * within h relative; / and sqrt within 2.5 ULP = 5h;
// exp within 3 + 2|x| ULP = (6 + 4|x|)h; log within 3 ULP = 6h outside [0.5, 2], 2^-21 absolute inside) and from
// the order in which each kernel adds. Uniforms are f32, so every hyperparameter carries one more rounding (h).
import { Tensor } from '../tensor.ts';
import type { Tolerance } from '../reference/compare.ts';
import { define, HALF_ULP, inputs, joinOutputs, take, type ValidationCase } from './define.ts';
import { softmaxCrossEntropy, softmaxCrossEntropyBackward } from '../ops/loss.ts';
import { softmaxCrossEntropyBackwardReference, softmaxCrossEntropyReference } from '../reference/loss.ts';

const h = HALF_ULP;
const EXACT: Tolerance = { atol: 0, rtol: 0 };

export interface CrossEntropyConfig { rows: number; classes: number; smoothing: number; low?: number; high?: number; badLabelRow?: number }

export const CROSS_ENTROPY_CONFIGS: CrossEntropyConfig[] = [
  { rows: 1, classes: 10, smoothing: 0 },
  { rows: 5, classes: 1, smoothing: 0 },
  { rows: 5, classes: 1, smoothing: 0.1 },
  { rows: 7, classes: 2, smoothing: 0 },
  { rows: 16, classes: 10, smoothing: 0.1 },
  { rows: 13, classes: 37, smoothing: 0.2, low: -30, high: 30 },
  { rows: 4, classes: 1000, smoothing: 0 },
  // exp(100) overflows f32: only the max-subtracted form survives.
  { rows: 3, classes: 1000, smoothing: 0.1, low: 95, high: 105 },
  { rows: 70, classes: 10, smoothing: 0.05 },
  { rows: 6, classes: 5, smoothing: 0.1, badLabelRow: 2 },
];

const label = (c: CrossEntropyConfig) => `${c.rows}x${c.classes} s=${c.smoothing}${c.low !== undefined ? ` logits [${c.low}, ${c.high})` : ''}${c.badLabelRow !== undefined ? ' label out of range' : ''}`;

export function crossEntropyInputs(c: CrossEntropyConfig): { logits: Float32Array; labels: Uint32Array } {
  const logits = inputs(c.rows * c.classes, c.low ?? -4, c.high ?? 4);
  const labels = Uint32Array.from(inputs(c.rows, 0, c.classes), (u) => Math.min(c.classes - 1, Math.floor(u)));
  if (c.badLabelRow !== undefined) labels[c.badLabelRow] = c.classes;
  return { logits, labels };
}

/**
 * Forward bounds. With z = x - max (|z| <= zSpan, the largest max - min of a row) and k = ceil(classes / 64)
 * terms summed in sequence per invocation before a 6-level tree:
 *  - each exp(z) carries (6 + 4|z|)h from exp plus |z|h from rounding z; sum exp(z) adds (k + 6)h more (all
 *    terms positive), so log(sum) is off by that relative error plus log's own 2^-21 + 6h log(classes);
 *  - loss = lse' - (1 - s) z[label] - (s / classes) sum z is a sum of three non-negative terms: the last two
 *    carry at most (k + 9)h (z rounding, the sum of z's, the weight's rounding, the product), the two
 *    additions 2h: rtol (k + 11)h;
 *  - lse = max + lse' adds one rounding (rtol h);
 *  - the mean: ceil(rows / 64) sequential adds, a 6-level tree and the product with the rounded 1 / rows.
 */
export function crossEntropyTolerances(logits: ArrayLike<number>, rows: number, classes: number) {
  let zSpan = 0;
  for (let r = 0; r < rows; r++) {
    let hi = -Infinity, lo = Infinity;
    for (let j = 0; j < classes; j++) { hi = Math.max(hi, logits[r * classes + j]); lo = Math.min(lo, logits[r * classes + j]); }
    zSpan = Math.max(zSpan, hi - lo);
  }
  const k = Math.ceil(classes / 64);
  const lseShifted = (6 + 5 * zSpan + k + 6) * h + 2 ** -21 + 6 * h * Math.log(classes);
  const loss: Tolerance = { atol: lseShifted, rtol: (k + 11) * h };
  return {
    lseShifted, loss,
    lse: { atol: lseShifted, rtol: h } as Tolerance,
    mean: { atol: loss.atol, rtol: loss.rtol + (Math.ceil(rows / 64) + 8) * h } as Tolerance,
  };
}

/**
 * Backward bound: p = exp(x - lse) with the GPU's lse off by eL = lseShifted + h|lse| gives
 * |dp| <= p (eL + 6h) + 5h p|x - lse| <= eL + 6h + 2h (p|t| <= 1/e); the target's rounding adds h; the
 * subtraction and the products with scale (rounded) and dloss 4h relative.
 */
export function crossEntropyBackwardTolerance(logits: ArrayLike<number>, rows: number, classes: number, lse: ArrayLike<number>, upstream: number): Tolerance {
  let lseMax = 0;
  for (let r = 0; r < rows; r++) if (Number.isFinite(lse[r])) lseMax = Math.max(lseMax, Math.abs(lse[r]));
  const eL = crossEntropyTolerances(logits, rows, classes).lseShifted + h * lseMax;
  return { atol: Math.abs(upstream) * (eL + 9 * h), rtol: 4 * h };
}

function crossEntropyForwardCase(c: CrossEntropyConfig): ValidationCase {
  return define('softmax_ce.forward', label(c), async (rt) => {
    const { logits, labels } = crossEntropyInputs(c);
    const tl = Tensor.upload(rt, logits, [c.rows, c.classes]), ty = Tensor.upload(rt, labels, [c.rows], 'u32');
    const out = softmaxCrossEntropy(tl, ty, { labelSmoothing: c.smoothing });
    const [loss, lse, predicted, correct, mean] = [await take(out.loss), await take(out.saved.lse), await take(out.predicted), await take(out.correct), await take(out.meanLoss)];
    const ref = softmaxCrossEntropyReference(logits, labels, c.rows, c.classes, c.smoothing);
    const tol = crossEntropyTolerances(logits, c.rows, c.classes);
    return joinOutputs([
      { got: loss, ref: ref.loss, tolerance: tol.loss },
      { got: lse, ref: ref.lse, tolerance: tol.lse },
      { got: predicted, ref: ref.predicted, tolerance: EXACT },
      { got: correct, ref: ref.correct, tolerance: EXACT },
      { got: mean, ref: [ref.mean], tolerance: tol.mean },
    ]);
  });
}

type Upstream = 'mean' | 'sum' | 'rows' | 'one';

function crossEntropyBackwardCase(c: CrossEntropyConfig, upstream: Upstream): ValidationCase {
  return define('softmax_ce.backward', `${label(c)} upstream ${upstream}`, async (rt) => {
    const { logits, labels } = crossEntropyInputs(c);
    const dloss = upstream === 'rows' ? inputs(c.rows, -1, 1) : upstream === 'one' ? inputs(1, 0.5, 2) : null;
    const tl = Tensor.upload(rt, logits, [c.rows, c.classes]), ty = Tensor.upload(rt, labels, [c.rows], 'u32');
    const td = dloss ? Tensor.upload(rt, dloss) : undefined;
    const out = softmaxCrossEntropy(tl, ty, { labelSmoothing: c.smoothing });
    const lse = await out.saved.lse.download();
    const got = await take(softmaxCrossEntropyBackward(out.saved, { dloss: td, scale: upstream === 'sum' ? 1 : undefined }));
    const perRow = dloss ?? [upstream === 'sum' ? 1 : 1 / c.rows];
    const ref = softmaxCrossEntropyBackwardReference(logits, labels, c.rows, c.classes, c.smoothing, perRow);
    const largest = Math.max(...Array.from(perRow, Math.abs));
    return { got, ref, tolerance: crossEntropyBackwardTolerance(logits, c.rows, c.classes, lse, largest) };
  });
}

export function lossCases(): ValidationCase[] {
  return [
    ...CROSS_ENTROPY_CONFIGS.map(crossEntropyForwardCase),
    ...CROSS_ENTROPY_CONFIGS.map((c, k) => crossEntropyBackwardCase(c, (['mean', 'rows', 'sum', 'one'] as Upstream[])[k % 4])),
  ];
}
