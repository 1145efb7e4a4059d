// Reductions over one axis: sum, mean, max, argmax.
import { Tensor } from '../tensor.ts';
import { widthBindings, widthFor } from './vec4-twin.ts';

export type ReduceOp = 'sum' | 'mean' | 'max' | 'argmax';

function normalizeAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!(a >= 0 && a < rank)) throw new Error(`axis ${axis} is out of range for rank ${rank}`);
  return a;
}

/** Reduces `axis` away (keepDims keeps it as size 1). argmax returns u32 indices. */
export function reduce(op: ReduceOp, x: Tensor, axis = -1, keepDims = false): Tensor {
  const ax = normalizeAxis(axis, x.shape.length);
  const outer = x.shape.slice(0, ax).reduce((p, d) => p * d, 1);
  const len = x.shape[ax];
  const inner = x.shape.slice(ax + 1).reduce((p, d) => p * d, 1);
  if (len === 0 && op !== 'sum') throw new Error(`${op} over an empty axis is undefined`);
  const outShape = keepDims ? x.shape.map((d, i) => (i === ax ? 1 : d)) : x.shape.filter((_, i) => i !== ax);
  const out = Tensor.empty(x.rt, outShape, op === 'argmax' ? 'u32' : 'f32');
  if (out.size === 0) return out;
  const contiguous = inner === 1;
  // Strided sums and maxima take 4 neighbouring outputs per invocation (vec4 loads) when they come in fours.
  const w = widthFor(!contiguous && op !== 'argmax' && inner % 4 === 0);
  const entry = op === 'argmax' ? (contiguous ? 'argmax_rows' : 'argmax_strided') : contiguous ? 'rows' : `strided${w.suffix}`;
  const io = op === 'argmax' ? { bindings: { x, outIndex: out }, needs: { x: x.size } } : widthBindings(w, { x: [x, x.size], out: [out, out.size] });
  x.rt.launch({
    shader: 'reduce', entry,
    overrides: op === 'argmax' ? {} : { OP: op === 'max' ? 1 : 0 },
    ...io,
    uniforms: { outer, len, inner: inner / w.width, scale: op === 'mean' ? 1 / len : 1 },
    // A contiguous row is reduced by one workgroup together; strided outputs by a flat pass (argmax: one
    // invocation per output).
    ...(contiguous ? { workgroups: outer } : op === 'argmax' ? { invocations: outer * inner } : { elements: outer * inner / w.width }),
  });
  return out;
}

export const sum = (x: Tensor, axis = -1, keepDims = false) => reduce('sum', x, axis, keepDims);
export const mean = (x: Tensor, axis = -1, keepDims = false) => reduce('mean', x, axis, keepDims);
export const max = (x: Tensor, axis = -1, keepDims = false) => reduce('max', x, axis, keepDims);
export const argmax = (x: Tensor, axis = -1, keepDims = false) => reduce('argmax', x, axis, keepDims);
