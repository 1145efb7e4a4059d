// Softmax cross-entropy with label smoothing: per-sample loss, mean loss, prediction and correctness in one
// forward; the fused backward (softmax - target) * upstream. See shaders/softmax_ce.wgsl.
import { Tensor } from '../tensor.ts';
import { mean } from './reduce.ts';

export interface SoftmaxCrossEntropySaved {
  /** Borrowed from the caller: the backward reads them, so they must live until then. */
  logits: Tensor;
  labels: Tensor;
  /** [rows] log-sum-exp of each row, owned by this record: dispose it after the backward. */
  lse: Tensor;
  labelSmoothing: number;
}

export interface SoftmaxCrossEntropyResult {
  /** [rows] per-sample loss (the selectors rank samples by it). */
  loss: Tensor;
  /** [1] mean of `loss`, computed on the GPU. */
  meanLoss: Tensor;
  /** [rows] u32 arg-max of each row (first index of the maximum). */
  predicted: Tensor;
  /** [rows] f32: 1 where predicted == label, else 0 (sum it for an accuracy count). */
  correct: Tensor;
  saved: SoftmaxCrossEntropySaved;
}

function shapeOf(logits: Tensor, labels: Tensor): { rows: number; classes: number } {
  if (logits.shape.length !== 2 || logits.dtype !== 'f32') throw new Error(`softmaxCrossEntropy: logits must be f32 [rows, classes], got [${logits.shape}] ${logits.dtype}`);
  const [rows, classes] = logits.shape;
  if (rows < 1 || classes < 1) throw new Error(`softmaxCrossEntropy: needs at least one row and one class, got [${logits.shape}]`);
  if (labels.dtype !== 'u32' || labels.size !== rows) throw new Error(`softmaxCrossEntropy: labels must be u32 [${rows}], got [${labels.shape}] ${labels.dtype}`);
  return { rows, classes };
}

function smoothingUniforms(classes: number, s: number) {
  if (!(s >= 0 && s <= 1)) throw new Error(`label smoothing must lie in [0, 1], got ${s}`);
  return { onWeight: 1 - s, offWeight: s / classes, onTarget: 1 - s + s / classes };
}

/** Labels outside [0, classes) give a NaN loss and NaN gradients for that row (the GPU cannot throw). */
export function softmaxCrossEntropy(logits: Tensor, labels: Tensor, options: { labelSmoothing?: number } = {}): SoftmaxCrossEntropyResult {
  const rt = logits.rt;
  const { rows, classes } = shapeOf(logits, labels);
  const labelSmoothing = options.labelSmoothing ?? 0;
  const smoothing = smoothingUniforms(classes, labelSmoothing);
  const loss = Tensor.empty(rt, [rows]);
  const lse = Tensor.empty(rt, [rows]);
  const predicted = Tensor.empty(rt, [rows], 'u32');
  const correct = Tensor.empty(rt, [rows]);
  rt.launch({
    shader: 'softmax_ce', entry: 'forward',
    bindings: { logits, labels, loss, lse, predicted, correct },
    needs: { logits: rows * classes, labels: rows, loss: rows, lse: rows, predicted: rows, correct: rows },
    uniforms: { rows, classes, dlossStride: 0, scale: 1, ...smoothing },
    workgroups: rows,
  });
  const meanLoss = mean(loss, 0, true);
  return { loss, meanLoss, predicted, correct, saved: { logits, labels, lse, labelSmoothing } };
}

export interface CrossEntropyUpstream {
  /** Factor on every row; default 1 / rows, the gradient of the mean loss. */
  scale?: number;
  /** Upstream gradient of the loss: [rows] per sample, or [1] for every row; multiplied by `scale` (default 1 then). */
  dloss?: Tensor;
}

/** dlogits [rows, classes] = (softmax(logits) - target) * upstream, the softmax recomputed from the saved lse. */
export function softmaxCrossEntropyBackward(saved: SoftmaxCrossEntropySaved, upstream: CrossEntropyUpstream = {}): Tensor {
  const { logits, labels, lse, labelSmoothing } = saved;
  const rt = logits.rt;
  const { rows, classes } = shapeOf(logits, labels);
  const dloss = upstream.dloss;
  if (dloss && (dloss.dtype !== 'f32' || (dloss.size !== rows && dloss.size !== 1))) {
    throw new Error(`softmaxCrossEntropyBackward: dloss must be f32 [${rows}] or [1], got [${dloss.shape}] ${dloss.dtype}`);
  }
  const scale = upstream.scale ?? (dloss ? 1 : 1 / rows);
  const dlogits = Tensor.empty(rt, [rows, classes]);
  const n = rows * classes;
  rt.launch({
    shader: 'softmax_ce', entry: dloss ? 'backward_rows' : 'backward',
    bindings: { logits, labels, savedLse: lse, dlogits, ...(dloss ? { dloss } : {}) },
    needs: { logits: n, labels: rows, savedLse: rows, dlogits: n, ...(dloss ? { dloss: dloss.size } : {}) },
    uniforms: { rows, classes, dlossStride: dloss && dloss.size === rows ? 1 : 0, scale, ...smoothingUniforms(classes, labelSmoothing) },
    invocations: n,
  });
  return dlogits;
}
