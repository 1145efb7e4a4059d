// Kernels with a vec4 twin: their WGSL piece is imported twice, for f32 and for vec4<f32>, the twin's entries and
// bindings carrying the suffix 4 (see shaders/lib/optimizer_steps.wgsl and its siblings). On lavapipe every
// storage access is a loop over the SIMD lanes, so a vec4 moves four floats per loop: the twin runs wherever the
// lengths it steps by come in fours.
import type { Tensor } from '../tensor.ts';

export interface Width {
  /** '' for the f32 entries and bindings, '4' for the vec4 twin's. */
  suffix: '' | '4';
  /** Floats per element: 1 or 4. */
  width: 1 | 4;
}

export function widthFor(inFours: boolean): Width {
  return inFours ? { suffix: '4', width: 4 } : { suffix: '', width: 1 };
}

/** A launch's bindings and their element counts at this width, from each tensor and its length in floats. */
export function widthBindings(w: Width, tensors: Record<string, [Tensor, number]>): { bindings: Record<string, Tensor>; needs: Record<string, number> } {
  const bindings: Record<string, Tensor> = {};
  const needs: Record<string, number> = {};
  for (const [name, [t, floats]] of Object.entries(tensors)) {
    bindings[name + w.suffix] = t;
    needs[name + w.suffix] = floats / w.width;
  }
  return { bindings, needs };
}
