// What each selection step records beside its loss: how many classes the kept set covers (a collapsed selector
// keeps whole classes and drops others), how localised the Fiedler vector is, and where the selection's time went.
// Computed by the trainer for every selector alike, so random and SALN are measured the same way.
import type { SelectionResult } from '../select/types.ts';

export interface SelectionTiming {
  /** Reading the selector's inputs: cached rows gathered, remembered losses looked up, scoring forwards queued. */
  gatherMs: number;
  /** The mean age in steps of the remembered losses the selector read. */
  staleAge?: number;
}

/** Distinct labels among `labels` at `indices` (all of them when absent). */
export function distinctLabels(labels: ArrayLike<number>, indices?: ArrayLike<number>): number {
  const seen = new Set<number>();
  const n = indices ? indices.length : labels.length;
  for (let k = 0; k < n; k++) seen.add(labels[indices ? indices[k] : k]);
  return seen.size;
}

/** sum v^4 / (sum v^2)^2: 1/B for a vector spread evenly over B entries, 1 for one concentrated on a single entry. */
export function inverseParticipation(v: ArrayLike<number>): number {
  let squares = 0, fourth = 0;
  for (let i = 0; i < v.length; i++) { const q = v[i] * v[i]; squares += q; fourth += q * q; }
  return squares > 0 ? fourth / (squares * squares) : 0;
}

export function selectionDiagnostics(result: SelectionResult, labels: ArrayLike<number>, timing: SelectionTiming): Record<string, unknown> {
  const details = result.details ?? {};
  const out: Record<string, unknown> = {
    keptClasses: distinctLabels(labels, result.indices),
    batchClasses: distinctLabels(labels),
  };
  const fiedler = details.fiedler as ArrayLike<number> | undefined;
  if (fiedler) out.fiedlerIpr = inverseParticipation(fiedler);
  const selectorTiming = (details.timing ?? {}) as Record<string, number>;
  out.selectionMs = { gather: timing.gatherMs, ...selectorTiming };
  if (timing.staleAge !== undefined) out.staleAge = timing.staleAge;
  return out;
}
