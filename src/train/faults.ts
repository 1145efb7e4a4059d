// Faults a test injects into a training run (`saln train --inject KIND[:TARGET]@STEP`) to prove that the run
// stops cleanly, names the cause and keeps its last good checkpoint. Not for users: the real faults are what
// these stand in for (a driver reset, a diverging loss, an overflowing gradient).
import type { Var } from '../autograd.ts';
import type { Runtime } from '../gpu/runtime.ts';
import type { ParameterStore } from '../nn/parameters.ts';

export const FAULT_KINDS = ['nan-loss', 'nan-activation', 'inf-gradient', 'device-lost'] as const;
export type FaultKind = typeof FAULT_KINDS[number];

export interface Fault {
  kind: FaultKind;
  /** The module whose output (nan-activation) or the parameter whose gradient (inf-gradient) is hit. */
  target?: string;
  /** The optimizer step (1-based) it happens at. */
  step: number;
}

export function parseFault(spec: string): Fault {
  const m = /^([a-z-]+)(?::([\w.]+))?@(\d+)$/.exec(spec);
  const kind = m?.[1] as FaultKind | undefined;
  if (!m || !kind || !FAULT_KINDS.includes(kind)) throw new Error(`--inject takes KIND[:TARGET]@STEP with KIND one of ${FAULT_KINDS.join(', ')}, got '${spec}'`);
  if ((kind === 'nan-activation' || kind === 'inf-gradient') !== Boolean(m[2])) {
    throw new Error(`--inject ${kind} ${m[2] ? 'takes no target' : 'needs a target: a module name (nan-activation) or parameter name (inf-gradient)'}`);
  }
  return { kind, target: m[2], step: Number(m[3]) };
}

function poison(rt: Runtime, v: Var, value: number): void {
  const t = v.value;
  rt.write(t.buffer, Float32Array.of(value), t.byteOffset);
}

/** The forward probe for a step: NaN into the output of the target module (or into the loss). */
export function forwardFault(rt: Runtime, fault: Fault | undefined, step: number): ((name: string, v: Var) => void) | undefined {
  if (!fault || fault.step !== step) return undefined;
  if (fault.kind === 'nan-activation') return (name, v) => { if (name === fault.target) poison(rt, v, NaN); };
  if (fault.kind === 'nan-loss') return (name, v) => { if (name === 'loss') poison(rt, v, NaN); };
  return undefined;
}

/** After the backward: an infinite gradient element in the target parameter. */
export function gradientFault(rt: Runtime, fault: Fault | undefined, step: number, store: ParameterStore): void {
  if (fault?.kind === 'inf-gradient' && fault.step === step) {
    const target = store.param(fault.target!).gradTarget;
    if (!target) throw new Error(`--inject: '${fault.target}' has no gradient`);
    rt.write(target.buffer, Float32Array.of(Infinity), target.byteOffset);
  }
}
