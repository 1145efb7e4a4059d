// Per-step diagnostics of a SALN selection, recorded in its details: how localised the Fiedler vector is (a
// localised v2 makes magnitude rules keep outliers) and how many classes the kept set covers against the batch
// (a collapsed selection keeps whole classes and drops others).

/** sum v^4 / (sum v^2)^2: 1/B for a vector spread evenly over B entries, 1 for one concentrated on a single entry. */
export function inverseParticipationRatio(v: ArrayLike<number>): number {
  let squares = 0, fourth = 0;
  for (let i = 0; i < v.length; i++) { const q = v[i] * v[i]; squares += q; fourth += q * q; }
  return squares > 0 ? fourth / (squares * squares) : 0;
}

/** Distinct values of `labels` at `indices` (all of them when absent). */
export function distinctClasses(labels: ArrayLike<number>, indices?: ArrayLike<number>): number {
  const seen = new Set<number>();
  const n = indices ? indices.length : labels.length;
  for (let k = 0; k < n; k++) seen.add(labels[indices ? indices[k] : k]);
  return seen.size;
}
