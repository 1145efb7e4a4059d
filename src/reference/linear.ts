// float64 reference of the linear layer y = x W^T + b with PyTorch's weight layout W [out, in].

export interface LinearShape { rows: number; inFeatures: number; outFeatures: number }

export function linearReference(x: ArrayLike<number>, weight: ArrayLike<number>, bias: ArrayLike<number> | null, s: LinearShape): Float64Array {
  const { rows, inFeatures, outFeatures } = s;
  const y = new Float64Array(rows * outFeatures);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outFeatures; o++) {
      let acc = bias ? bias[o] : 0;
      for (let i = 0; i < inFeatures; i++) acc += x[r * inFeatures + i] * weight[o * inFeatures + i];
      y[r * outFeatures + o] = acc;
    }
  }
  return y;
}

export interface LinearGradients { dx: Float64Array; dWeight: Float64Array; dBias: Float64Array }

/** dx = dy W, dW = dy^T x, db = sum over rows of dy. */
export function linearBackwardReference(dy: ArrayLike<number>, x: ArrayLike<number>, weight: ArrayLike<number>, s: LinearShape): LinearGradients {
  const { rows, inFeatures, outFeatures } = s;
  const dx = new Float64Array(rows * inFeatures);
  const dWeight = new Float64Array(outFeatures * inFeatures);
  const dBias = new Float64Array(outFeatures);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outFeatures; o++) {
      const g = dy[r * outFeatures + o];
      dBias[o] += g;
      for (let i = 0; i < inFeatures; i++) {
        dx[r * inFeatures + i] += g * weight[o * inFeatures + i];
        dWeight[o * inFeatures + i] += g * x[r * inFeatures + i];
      }
    }
  }
  return { dx, dWeight, dBias };
}
