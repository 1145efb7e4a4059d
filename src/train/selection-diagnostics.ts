// What each selection step records beside its loss: how many classes the kept set covers (a collapsed selector
// keeps whole classes and drops others), how localised the Fiedler vector is, and where the selection's time went.
// Computed by the trainer for every selector alike, so random and SALN are measured the same way.
import type { SelectionResult } from '../select/types.ts';
import { distinctClasses, inverseParticipationRatio } from '../select/saln-diagnostics.ts';
import { labelEntropy } from '../study/stats.ts';

export interface SelectionTiming {
  /** Reading the selector's inputs: cached rows gathered, remembered losses looked up, scoring forwards queued. */
  gatherMs: number;
  /** The mean age in steps of the remembered losses the selector read. */
  staleAge?: number;
}

export function selectionDiagnostics(result: SelectionResult, labels: ArrayLike<number>, timing: SelectionTiming): Record<string, unknown> {
  const details = result.details ?? {};
  const out: Record<string, unknown> = {
    keptClasses: distinctClasses(labels, result.indices),
    batchClasses: distinctClasses(labels),
  };
  // Entropy in nats of the kept labels against the batch's: a selector that keeps whole classes shows it first.
  const classes = 1 + Math.max(0, ...Array.from(labels));
  out.keptEntropy = labelEntropy(Array.from(result.indices, (i) => labels[i]), classes);
  out.batchEntropy = labelEntropy(labels, classes);
  const fiedler = details.fiedler as ArrayLike<number> | undefined;
  if (fiedler) out.fiedlerIpr = inverseParticipationRatio(fiedler);
  const selectorTiming = (details.timing ?? {}) as Record<string, number>;
  out.selectionMs = { gather: timing.gatherMs, ...selectorTiming };
  if (timing.staleAge !== undefined) out.staleAge = timing.staleAge;
  return out;
}
