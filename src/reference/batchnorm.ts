// float64 references of batch normalisation on NHWC activations viewed as [rows, C] (rows = N*H*W).

export interface BatchNormTrainReference {
  y: Float64Array;
  mean: Float64Array;
  /** Biased batch variance (what normalises). */
  variance: Float64Array;
  invStd: Float64Array;
  runningMean: Float64Array;
  runningVar: Float64Array;
}

export function batchNormTrainReference(
  x: ArrayLike<number>, channels: number, gamma: ArrayLike<number>, beta: ArrayLike<number>,
  runningMean: ArrayLike<number>, runningVar: ArrayLike<number>, momentum: number, eps: number,
): BatchNormTrainReference {
  const rows = x.length / channels;
  const mean = new Float64Array(channels);
  const variance = new Float64Array(channels);
  for (let r = 0; r < rows; r++) for (let c = 0; c < channels; c++) mean[c] += x[r * channels + c];
  for (let c = 0; c < channels; c++) mean[c] /= rows;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < channels; c++) {
      const d = x[r * channels + c] - mean[c];
      variance[c] += d * d;
    }
  }
  for (let c = 0; c < channels; c++) variance[c] /= rows;
  const invStd = variance.map((v) => 1 / Math.sqrt(v + eps));
  const y = normalizeRows(x, channels, mean, invStd, gamma, beta);
  const newMean = Float64Array.from(mean, (m, c) => (1 - momentum) * runningMean[c] + momentum * m);
  const newVar = Float64Array.from(variance, (v, c) => (1 - momentum) * runningVar[c] + momentum * v * rows / (rows - 1));
  return { y, mean, variance, invStd, runningMean: newMean, runningVar: newVar };
}

export function batchNormEvalReference(
  x: ArrayLike<number>, channels: number, gamma: ArrayLike<number>, beta: ArrayLike<number>,
  runningMean: ArrayLike<number>, runningVar: ArrayLike<number>, eps: number,
): Float64Array {
  const invStd = Float64Array.from({ length: channels }, (_, c) => 1 / Math.sqrt(runningVar[c] + eps));
  return normalizeRows(x, channels, runningMean, invStd, gamma, beta);
}

function normalizeRows(x: ArrayLike<number>, channels: number, mean: ArrayLike<number>, invStd: ArrayLike<number>, gamma: ArrayLike<number>, beta: ArrayLike<number>): Float64Array {
  return Float64Array.from({ length: x.length }, (_, i) => {
    const c = i % channels;
    return (x[i] - mean[c]) * invStd[c] * gamma[c] + beta[c];
  });
}

/**
 * Training-mode backward, given the mean and inverse std the forward saved:
 * dx = gamma * invStd / n * (n * dy - sum(dy) - xhat * sum(dy * xhat)), dgamma = sum(dy * xhat), dbeta = sum(dy).
 */
export function batchNormBackwardReference(
  dy: ArrayLike<number>, x: ArrayLike<number>, channels: number, gamma: ArrayLike<number>, mean: ArrayLike<number>, invStd: ArrayLike<number>,
): { dx: Float64Array; dgamma: Float64Array; dbeta: Float64Array } {
  const rows = x.length / channels;
  const xhat = Float64Array.from({ length: x.length }, (_, i) => (x[i] - mean[i % channels]) * invStd[i % channels]);
  const dgamma = new Float64Array(channels);
  const dbeta = new Float64Array(channels);
  for (let i = 0; i < x.length; i++) {
    dbeta[i % channels] += dy[i];
    dgamma[i % channels] += dy[i] * xhat[i];
  }
  const dx = Float64Array.from({ length: x.length }, (_, i) => {
    const c = i % channels;
    return gamma[c] * invStd[c] / rows * (rows * dy[i] - dbeta[c] - xhat[i] * dgamma[c]);
  });
  return { dx, dgamma, dbeta };
}
