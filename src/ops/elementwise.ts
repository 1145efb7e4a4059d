// Elementwise unary and binary ops with NumPy broadcasting.
import { Tensor } from '../tensor.ts';

export const UNARY_OPS = { relu: 0, exp: 1, log: 2, sqrt: 3, neg: 4, abs: 5, square: 6 } as const;
export const BINARY_OPS = { add: 0, sub: 1, mul: 2, div: 3, max: 4, min: 5 } as const;
export type UnaryOp = keyof typeof UNARY_OPS;
export type BinaryOp = keyof typeof BINARY_OPS;

const MAX_RANK = 8;

function uniforms(n: number, rank = 0, alpha = 0, beta = 0, outShape: number[] = [], aStrides: number[] = [], bStrides: number[] = []) {
  const pad = (v: number[]) => { const p = [...v, ...new Array(MAX_RANK - v.length).fill(0)]; return [p.slice(0, 4), p.slice(4, 8)]; };
  const [outShapeLo, outShapeHi] = pad(outShape);
  const [aStridesLo, aStridesHi] = pad(aStrides);
  const [bStridesLo, bStridesHi] = pad(bStrides);
  return { n, rank, alpha, beta, outShapeLo, outShapeHi, aStridesLo, aStridesHi, bStridesLo, bStridesHi };
}


export function unary(op: UnaryOp, a: Tensor, options: { inPlace?: boolean } = {}): Tensor {
  if (options.inPlace) {
    if (a.size > 0) a.rt.launch({ shader: 'elementwise', entry: 'unary_inplace', overrides: { OP: UNARY_OPS[op] }, bindings: { inout: a }, needs: { inout: a.size }, uniforms: uniforms(a.size), elements: a.size });
    return a;
  }
  const out = Tensor.empty(a.rt, a.shape);
  if (a.size > 0) a.rt.launch({ shader: 'elementwise', entry: 'unary', overrides: { OP: UNARY_OPS[op] }, bindings: { a, out }, needs: { a: a.size, out: out.size }, uniforms: uniforms(a.size), elements: a.size });
  return out;
}

/** NumPy broadcasting: align shapes at the right; each pair of dimensions must match or be 1. */
export function broadcastShape(x: readonly number[], y: readonly number[]): number[] {
  const rank = Math.max(x.length, y.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const dx = x[x.length - rank + i] ?? 1;
    const dy = y[y.length - rank + i] ?? 1;
    if (dx !== dy && dx !== 1 && dy !== 1) throw new Error(`shapes [${x}] and [${y}] do not broadcast (dimension ${i}: ${dx} vs ${dy})`);
    out.push(dx === 1 ? dy : dx);
  }
  return out;
}

/** Strides of a row-major tensor of `shape` read as `outShape`; 0 along broadcast dimensions. */
export function broadcastStrides(shape: readonly number[], outShape: readonly number[]): number[] {
  const strides = new Array(outShape.length).fill(0);
  let stride = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const o = outShape.length - shape.length + i;
    strides[o] = shape[i] === 1 ? 0 : stride;
    stride *= shape[i];
  }
  return strides;
}

export function binary(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  const outShape = broadcastShape(a.shape, b.shape);
  if (outShape.length > MAX_RANK) throw new Error(`binary ${op}: rank ${outShape.length} exceeds ${MAX_RANK}`);
  const out = Tensor.empty(a.rt, outShape);
  if (out.size === 0) return out;
  const same = a.size === out.size && b.size === out.size;
  a.rt.launch({
    shader: 'elementwise', entry: same ? 'binary_same' : 'binary_broadcast', overrides: { OP: BINARY_OPS[op] },
    bindings: { a, b, out }, needs: { a: a.size, b: b.size, out: out.size },
    uniforms: same ? uniforms(out.size) : uniforms(out.size, outShape.length, 0, 0, outShape, broadcastStrides(a.shape, outShape), broadcastStrides(b.shape, outShape)),
    ...(same ? { elements: out.size } : { invocations: out.size }),
  });
  return out;
}

export const add = (a: Tensor, b: Tensor) => binary('add', a, b);
export const sub = (a: Tensor, b: Tensor) => binary('sub', a, b);
export const mul = (a: Tensor, b: Tensor) => binary('mul', a, b);
export const div = (a: Tensor, b: Tensor) => binary('div', a, b);

/** alpha * a + beta * b, same shapes. */
export function scaleAdd(a: Tensor, b: Tensor, alpha: number, beta: number): Tensor {
  if (a.size !== b.size) throw new Error(`scaleAdd: shapes [${a.shape}] and [${b.shape}] differ`);
  const out = Tensor.empty(a.rt, a.shape);
  if (out.size > 0) a.rt.launch({ shader: 'elementwise', entry: 'scale_add', bindings: { a, b, out }, needs: { a: a.size, b: b.size, out: out.size }, uniforms: uniforms(a.size, 0, alpha, beta), elements: a.size });
  return out;
}

/** target += alpha * a, in place (same sizes). */
export function accumulate(target: Tensor, a: Tensor, alpha = 1): Tensor {
  if (target.size !== a.size) throw new Error(`accumulate: sizes ${target.size} and ${a.size} differ`);
  if (a.size > 0) a.rt.launch({ shader: 'elementwise', entry: 'accumulate', bindings: { inout: target, a }, needs: { inout: target.size, a: a.size }, uniforms: uniforms(a.size, 0, alpha), elements: a.size });
  return target;
}
