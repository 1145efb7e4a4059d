// float64 references of the axis reductions.
import type { ReduceOp } from '../ops/reduce.ts';

export function reduceReference(op: ReduceOp, x: ArrayLike<number>, shape: number[], axis: number): Float64Array {
  const ax = axis < 0 ? axis + shape.length : axis;
  const outer = shape.slice(0, ax).reduce((p, d) => p * d, 1);
  const len = shape[ax];
  const inner = shape.slice(ax + 1).reduce((p, d) => p * d, 1);
  const out = new Float64Array(outer * inner);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let acc = op === 'max' || op === 'argmax' ? -Infinity : 0;
      let best = 0;
      for (let k = 0; k < len; k++) {
        const v = x[(o * len + k) * inner + i];
        if (op === 'max') acc = Math.max(acc, v);
        else if (op === 'argmax') { if (v > acc) { acc = v; best = k; } }
        else acc += v;
      }
      out[o * inner + i] = op === 'argmax' ? best : op === 'mean' ? acc / len : acc;
    }
  }
  return out;
}
