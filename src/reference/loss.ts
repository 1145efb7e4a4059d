// float64 reference of softmax cross-entropy with PyTorch's label smoothing:
// target = (1 - s) * onehot(label) + s / classes, loss = -sum_j target_j * log softmax(x)_j
//        = lse - (1 - s) * x[label] - (s / classes) * sum_j x_j.

export interface SoftmaxCrossEntropyReference {
  /** Per-sample loss [rows]. */
  loss: Float64Array;
  mean: number;
  /** log sum_j exp(x_j) per row. */
  lse: Float64Array;
  /** First index of the row maximum. */
  predicted: Float64Array;
  /** 1 where predicted == label. */
  correct: Float64Array;
}

export function softmaxCrossEntropyReference(logits: ArrayLike<number>, labels: ArrayLike<number>, rows: number, classes: number, smoothing = 0): SoftmaxCrossEntropyReference {
  const loss = new Float64Array(rows), lse = new Float64Array(rows), predicted = new Float64Array(rows), correct = new Float64Array(rows);
  let total = 0;
  for (let r = 0; r < rows; r++) {
    const base = r * classes;
    let rowMax = -Infinity, best = 0;
    for (let j = 0; j < classes; j++) if (logits[base + j] > rowMax) { rowMax = logits[base + j]; best = j; }
    let sumExp = 0, sumX = 0;
    for (let j = 0; j < classes; j++) { sumExp += Math.exp(logits[base + j] - rowMax); sumX += logits[base + j]; }
    lse[r] = rowMax + Math.log(sumExp);
    const label = labels[r];
    loss[r] = label < classes ? lse[r] - (1 - smoothing) * logits[base + label] - (smoothing / classes) * sumX : NaN;
    predicted[r] = best;
    correct[r] = best === label ? 1 : 0;
    total += loss[r];
  }
  return { loss, mean: total / rows, lse, predicted, correct };
}

/**
 * Gradient of sum_r dloss[r] * loss[r] with respect to the logits: (softmax - target) * dloss[row].
 * `dloss` of length 1 applies to every row (the mean loss: dloss = [1 / rows]).
 */
export function softmaxCrossEntropyBackwardReference(logits: ArrayLike<number>, labels: ArrayLike<number>, rows: number, classes: number, smoothing: number, dloss: ArrayLike<number>): Float64Array {
  const { lse } = softmaxCrossEntropyReference(logits, labels, rows, classes, smoothing);
  const dlogits = new Float64Array(rows * classes);
  for (let r = 0; r < rows; r++) {
    const upstream = dloss.length === 1 ? dloss[0] : dloss[r];
    const label = labels[r];
    for (let j = 0; j < classes; j++) {
      const target = (j === label ? 1 - smoothing : 0) + smoothing / classes;
      dlogits[r * classes + j] = label < classes ? (Math.exp(logits[r * classes + j] - lse[r]) - target) * upstream : NaN;
    }
  }
  return dlogits;
}
