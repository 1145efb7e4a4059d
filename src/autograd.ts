// The tape: each op records a backward closure and the tensors it saved; backward() walks the records once in
// reverse (the recording order is a topological order), accumulating gradients with +=, so residual branches
// (a value used twice) get the sum of both paths without recursion. Intermediate values go back to the pool as
// soon as the backward no longer needs them.
import type { Tensor } from './tensor.ts';
import { accumulate } from './ops/elementwise.ts';
import { copy } from './ops/fill.ts';

/** A value in the graph: a tensor, and where its gradient goes. */
export class Var {
  /** Set for leaves whose gradient is wanted (parameters): backward accumulates into it (it must start zeroed). */
  gradTarget: Tensor | null = null;
  /** Set when the gradTarget was just zeroed (ParameterStore.zeroGrads): its first gradient is copied in (a
   * buffer copy, a memcpy on lavapipe) instead of added (a kernel reading both). */
  gradTargetZeroed = false;
  /** The gradient of an intermediate while the backward pass runs. */
  grad: Tensor | null = null;

  constructor(public value: Tensor, readonly requiresGrad = false, readonly name = '') {}

  get shape(): readonly number[] {
    return this.value.shape;
  }
}

/** A saved resource: a tensor, or anything else the backward reads and the tape must free. */
export interface Disposable {
  dispose(): void;
}

interface TapeEntry {
  inputs: Var[];
  outputs: Var[];
  /** Gradients of the inputs (null where not needed) from the gradients of the outputs (null where none flowed). */
  backward(gradOutputs: (Tensor | null)[]): (Tensor | null)[];
  /** What the record owns besides its outputs (saved statistics, arg-max, textures): released after its backward. */
  saved: Disposable[];
}

export class Tape {
  private records: TapeEntry[] = [];
  /** Values the tape created (op outputs): released after backward, or by release(). */
  private created: Var[] = [];
  private kept = new Set<Var>();

  /** With recording off (evaluation, feature extraction) ops keep no closures and save nothing. */
  constructor(readonly recording = true) {}

  /** Registers an op's outputs and, when recording and any input needs a gradient, its backward. */
  record(inputs: Var[], outputs: Var[], backward: TapeEntry['backward'], saved: Disposable[] = []): void {
    this.created.push(...outputs);
    if (this.recording && inputs.some((v) => v.requiresGrad)) {
      this.records.push({ inputs, outputs, backward, saved });
    } else {
      for (const t of saved) t.dispose();
    }
  }

  /** An op output that needs a gradient exactly when one of its inputs does. */
  output(value: Tensor, inputs: Var[], name = ''): Var {
    return new Var(value, this.recording && inputs.some((v) => v.requiresGrad), name);
  }

  /** Keeps a value alive past release() (the caller then owns it). */
  keep(v: Var): Var {
    this.kept.add(v);
    return v;
  }

  /**
   * Backpropagates from `root` with the given seed gradient (owned by the tape from here on). Parameter gradients
   * land in their gradTarget; every intermediate value and gradient is released on the way.
   */
  backward(root: Var, seed: Tensor): void {
    if (!this.recording) throw new Error('backward() on a tape that was not recording (noGrad)');
    root.grad = seed;
    for (let i = this.records.length - 1; i >= 0; i--) {
      const rec = this.records[i];
      const gradOutputs = rec.outputs.map((o) => o.grad);
      const flows = gradOutputs.some((g) => g !== null);
      const gradInputs = flows ? rec.backward(gradOutputs) : [];
      for (const o of rec.outputs) {
        o.grad?.dispose();
        o.grad = null;
        if (!this.kept.has(o)) o.value.dispose();
      }
      for (const t of rec.saved) t.dispose();
      rec.inputs.forEach((input, k) => {
        const g = gradInputs[k];
        if (!g) return;
        if (!input.requiresGrad) { g.dispose(); return; }
        this.deliver(input, g);
      });
    }
    this.records.length = 0;
    this.release();
  }

  private deliver(input: Var, g: Tensor): void {
    if (input.gradTarget) {
      if (input.gradTargetZeroed && g.size === input.gradTarget.size) copy(g, input.gradTarget);
      else accumulate(input.gradTarget, g);
      input.gradTargetZeroed = false;
      g.dispose();
    } else if (input.grad) {
      accumulate(input.grad, g);
      g.dispose();
    } else {
      input.grad = g;
    }
  }

  /** Releases every value the tape created that was not kept, and any record not run. */
  release(): void {
    for (const rec of this.records) for (const t of rec.saved) t.dispose();
    this.records.length = 0;
    for (const v of this.created) {
      if (this.kept.has(v)) continue;
      v.value.dispose();
      v.grad?.dispose();
      v.grad = null;
    }
    this.created.length = 0;
  }
}
