// float64 references of the ReLU backward and the fused residual add + ReLU.

/** dx = dy where the forward output is positive (relu(x) > 0 exactly when x > 0), else 0. */
export function reluBackwardReference(dy: ArrayLike<number>, y: ArrayLike<number>): Float64Array {
  return Float64Array.from({ length: dy.length }, (_, i) => (y[i] > 0 ? dy[i] : 0));
}

export function addReluReference(a: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  return Float64Array.from({ length: a.length }, (_, i) => Math.max(a[i] + b[i], 0));
}
