// Parameters, their gradients and the buffers (batch-norm running statistics), each in ONE contiguous GPU buffer
// with a view per tensor, so that an optimizer step, a gradient norm or zeroing the gradients is one flat
// dispatch. Parameters that take weight decay come first, so the decayed elements are one range.
import { Tensor } from '../tensor.ts';
import type { Runtime } from '../gpu/runtime.ts';
import { Var } from '../autograd.ts';
import { fill } from '../ops/fill.ts';

export type TensorKind = 'parameter' | 'buffer';

export interface TensorSpec {
  name: string;
  shape: number[];
  kind: TensorKind;
  /** Weight decay applies (conv and linear weights; not batch-norm affine parameters or biases). */
  decay: boolean;
  /** How it starts, declared by the module that owns it (torchvision's rules). */
  init: TensorInit;
}

/**
 * 'ones' and 'zeros'; 'kaiming-fan-out': normal with std sqrt(2 / fan-out), fan-out = out channels * kernel area
 * (ReLU gain); { uniformFanIn }: uniform in +-1/sqrt(fan-in) (PyTorch's default Linear init).
 */
export type TensorInit = 'ones' | 'zeros' | 'kaiming-fan-out' | { uniformFanIn: number };

interface Slot extends TensorSpec {
  offset: number;
  size: number;
}

/** Views start on 64-float (256-byte) boundaries: the strictest storage offset alignment WebGPU allows. */
const ALIGN = 64;

export class ParameterStore {
  readonly values: Tensor;
  readonly grads: Tensor;
  readonly buffers: Tensor;
  /** Elements [0, decayEnd) of the flat parameter buffer take weight decay. */
  readonly decayEnd: number;
  private slots = new Map<string, Slot>();
  private vars = new Map<string, Var>();
  private bufferViews = new Map<string, Tensor>();

  constructor(readonly rt: Runtime, readonly specs: readonly TensorSpec[]) {
    const ordered = [...specs.filter((s) => s.kind === 'parameter' && s.decay), ...specs.filter((s) => s.kind === 'parameter' && !s.decay)];
    let at = 0;
    let decayEnd = 0;
    for (const spec of ordered) {
      const size = spec.shape.reduce((p, d) => p * d, 1);
      this.slots.set(spec.name, { ...spec, offset: at, size });
      at += Math.ceil(size / ALIGN) * ALIGN;
      if (spec.decay) decayEnd = at;
    }
    const paramElements = Math.max(at, 1);
    this.decayEnd = decayEnd;
    let bufferAt = 0;
    for (const spec of specs.filter((s) => s.kind === 'buffer')) {
      const size = spec.shape.reduce((p, d) => p * d, 1);
      this.slots.set(spec.name, { ...spec, offset: bufferAt, size });
      bufferAt += Math.ceil(size / ALIGN) * ALIGN;
    }
    if (this.slots.size !== specs.length) throw new Error('parameter names must be unique');
    this.values = fill(Tensor.empty(rt, [paramElements]), 0);
    this.grads = fill(Tensor.empty(rt, [paramElements]), 0);
    this.buffers = fill(Tensor.empty(rt, [Math.max(bufferAt, 1)]), 0);
    for (const slot of this.slots.values()) {
      if (slot.kind === 'parameter') {
        const v = new Var(this.values.slice(slot.offset, slot.shape), true, slot.name);
        v.gradTarget = this.grads.slice(slot.offset, slot.shape);
        this.vars.set(slot.name, v);
      } else {
        this.bufferViews.set(slot.name, this.buffers.slice(slot.offset, slot.shape));
      }
    }
  }

  /** Number of trainable scalars (without alignment padding). */
  get parameterCount(): number {
    let n = 0;
    for (const s of this.slots.values()) if (s.kind === 'parameter') n += s.size;
    return n;
  }

  param(name: string): Var {
    const v = this.vars.get(name);
    if (!v) throw new Error(`no parameter named '${name}'`);
    return v;
  }

  buffer(name: string): Tensor {
    const t = this.bufferViews.get(name);
    if (!t) throw new Error(`no buffer named '${name}'`);
    return t;
  }

  has(name: string): boolean {
    return this.slots.has(name);
  }

  slot(name: string): Slot | undefined {
    return this.slots.get(name);
  }

  zeroGrads(): void {
    fill(this.grads, 0);
    for (const v of this.vars.values()) v.gradTargetZeroed = true;
  }

  /** Every named tensor, in declaration order, copied to the host. */
  async download(): Promise<Map<string, { spec: TensorSpec; data: Float32Array }>> {
    const [values, buffers] = await Promise.all([this.values.download(), this.buffers.download()]);
    const out = new Map<string, { spec: TensorSpec; data: Float32Array }>();
    for (const spec of this.specs) {
      const slot = this.slots.get(spec.name)!;
      const source = (spec.kind === 'parameter' ? values : buffers) as Float32Array;
      out.set(spec.name, { spec, data: source.slice(slot.offset, slot.offset + slot.size) });
    }
    return out;
  }

  /** Writes named tensors from host memory (sizes must match). */
  upload(name: string, data: Float32Array): void {
    const slot = this.slots.get(name);
    if (!slot) throw new Error(`no tensor named '${name}'`);
    if (data.length !== slot.size) throw new Error(`'${name}' holds ${slot.size} values, got ${data.length}`);
    (slot.kind === 'parameter' ? this.param(name).value : this.buffer(name)).upload(data);
  }

  dispose(): void {
    this.values.dispose();
    this.grads.dispose();
    this.buffers.dispose();
  }
}
