// Finite-difference gradient checks. A backward pass is checked as the gradient of a scalar: the projection
// L(x) = sum_i w_i * f(x)_i with fixed weights w, whose gradient is the backward applied to dy = w.

/** Central differences of a float64 scalar function at every coordinate of x (or the listed ones). */
export function numericGradient(f: (x: Float64Array) => number, x: ArrayLike<number>, eps = 1e-6, indices?: number[]): Float64Array {
  const point = Float64Array.from(x as ArrayLike<number>);
  const grad = new Float64Array(point.length);
  for (const i of indices ?? point.keys()) {
    const keep = point[i];
    point[i] = keep + eps;
    const up = f(point);
    point[i] = keep - eps;
    const down = f(point);
    point[i] = keep;
    grad[i] = (up - down) / (2 * eps);
  }
  return grad;
}

/** sum_i w_i * y_i in float64. */
export function project(y: ArrayLike<number>, w: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) s += w[i] * y[i];
  return s;
}

/**
 * Central differences of a GPU-evaluated scalar (computed in f32) at a few coordinates. With f32 the step must
 * be large (around 1e-3): smaller steps drown in rounding. Returns [indices, gradient at each].
 */
export async function gpuNumericGradient(loss: (x: Float32Array) => Promise<number>, x: Float32Array, indices: number[], eps = 1e-3): Promise<Float64Array> {
  const point = Float32Array.from(x);
  const grad = new Float64Array(indices.length);
  for (const [k, i] of indices.entries()) {
    const keep = point[i];
    point[i] = keep + eps;
    const up = await loss(point);
    point[i] = keep - eps;
    const down = await loss(point);
    point[i] = keep;
    // The step actually taken in f32, not the nominal one.
    grad[k] = (up - down) / (Math.fround(keep + eps) - Math.fround(keep - eps));
  }
  return grad;
}

/** Evenly spread coordinates for spot checks (always including the first and last). */
export function spreadIndices(length: number, count: number): number[] {
  if (length <= count) return Array.from({ length }, (_, i) => i);
  return Array.from({ length: count }, (_, k) => Math.round((k * (length - 1)) / (count - 1)));
}
