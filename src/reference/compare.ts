// The comparison every kernel check uses: |got - ref| <= atol + rtol * |ref|, elementwise.

export interface Tolerance {
  atol: number;
  rtol: number;
  /** Per-element extra allowance (a rounding bound that differs per output, e.g. n * eps * sum|a_k b_k|). */
  bound?: ArrayLike<number>;
}

export interface Comparison {
  maxAbs: number;
  maxRel: number;
  /** Index of the worst element (largest excess over its tolerance), -1 when empty. */
  worst: number;
  pass: boolean;
  count: number;
}

export const F32_EPS = 2 ** -23;

export function compare(got: ArrayLike<number>, ref: ArrayLike<number>, tol: Tolerance): Comparison {
  if (got.length !== ref.length) return { maxAbs: Infinity, maxRel: Infinity, worst: -1, pass: false, count: got.length };
  let maxAbs = 0, maxRel = 0, worst = -1, worstExcess = -Infinity, pass = true;
  for (let i = 0; i < got.length; i++) {
    const g = got[i], r = ref[i];
    if (Number.isNaN(r) && Number.isNaN(g)) continue;
    const err = Math.abs(g - r);
    const allowed = tol.atol + tol.rtol * Math.abs(r) + (tol.bound ? tol.bound[i] : 0);
    if (!(err <= allowed)) pass = false; // NaN err fails too
    maxAbs = Math.max(maxAbs, Number.isNaN(err) ? Infinity : err);
    if (r !== 0) maxRel = Math.max(maxRel, err / Math.abs(r));
    if (err - allowed > worstExcess || Number.isNaN(err)) { worstExcess = Number.isNaN(err) ? Infinity : err - allowed; worst = i; }
  }
  return { maxAbs, maxRel, worst, pass, count: got.length };
}
