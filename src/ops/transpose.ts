// Swap the last two dimensions (batched).
import { Tensor } from '../tensor.ts';

export function transpose(x: Tensor): Tensor {
  if (x.shape.length < 2) throw new Error(`transpose needs rank >= 2, got [${x.shape}]`);
  const [rows, cols] = x.shape.slice(-2);
  const batch = x.shape.slice(0, -2).reduce((p, d) => p * d, 1);
  const out = Tensor.empty(x.rt, [...x.shape.slice(0, -2), cols, rows]);
  if (out.size === 0) return out;
  if (batch > 65535) throw new Error(`transpose: batch ${batch} exceeds 65535`);
  x.rt.launch({
    shader: 'transpose', bindings: { x, out }, needs: { x: x.size, out: out.size },
    uniforms: { rows, cols },
    invocations: [cols, rows, batch],
  });
  return out;
}
