// float64 references of the elementwise kernels.
import { broadcastShape, broadcastStrides, type BinaryOp, type UnaryOp } from '../ops/elementwise.ts';

export const unaryReference: Record<UnaryOp, (x: number) => number> = {
  relu: (x) => Math.max(x, 0), exp: Math.exp, log: Math.log, sqrt: Math.sqrt, neg: (x) => -x, abs: Math.abs, square: (x) => x * x,
};

export const binaryReference: Record<BinaryOp, (x: number, y: number) => number> = {
  add: (x, y) => x + y, sub: (x, y) => x - y, mul: (x, y) => x * y, div: (x, y) => x / y, max: Math.max, min: Math.min,
};

export function unaryArray(op: UnaryOp, x: ArrayLike<number>): Float64Array {
  return Float64Array.from(x as ArrayLike<number>, unaryReference[op]);
}

export function binaryArray(op: BinaryOp, a: ArrayLike<number>, aShape: number[], b: ArrayLike<number>, bShape: number[]): { data: Float64Array; shape: number[] } {
  const shape = broadcastShape(aShape, bShape);
  const sa = broadcastStrides(aShape, shape);
  const sb = broadcastStrides(bShape, shape);
  const n = shape.reduce((p, d) => p * d, 1);
  const data = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let rest = i, ia = 0, ib = 0;
    for (let d = shape.length - 1; d >= 0; d--) {
      const coord = rest % shape[d];
      rest = Math.floor(rest / shape[d]);
      ia += coord * sa[d];
      ib += coord * sb[d];
    }
    data[i] = binaryReference[op](a[ia], b[ib]);
  }
  return { data, shape };
}

export function scaleAddArray(a: ArrayLike<number>, b: ArrayLike<number>, alpha: number, beta: number): Float64Array {
  return Float64Array.from({ length: a.length }, (_, i) => alpha * a[i] + beta * b[i]);
}
