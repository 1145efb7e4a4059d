// ReLU backward and the fused residual add + ReLU (ReLU forward is unary('relu') in elementwise.ts).
import { Tensor } from '../tensor.ts';

function sameSize(op: string, p: Tensor, q: Tensor): void {
  if (p.size !== q.size) throw new Error(`${op}: shapes [${p.shape.join(', ')}] and [${q.shape.join(', ')}] differ`);
}

/**
 * dx = dy where the forward output y is positive, else 0 (the forward input works as well: relu(x) > 0
 * exactly when x > 0). inPlace writes into dy and returns it.
 */
export function reluBackward(dy: Tensor, y: Tensor, options: { inPlace?: boolean } = {}): Tensor {
  sameSize('relu backward', dy, y);
  return launchPair('relu_backward', dy, 'dy', y, 'y', options.inPlace);
}

/**
 * relu(a + b), the residual block's output; its backward is reluBackward on this output, the add passing the
 * gradient to both operands unchanged. inPlace writes into a and returns it.
 */
export function addRelu(a: Tensor, b: Tensor, options: { inPlace?: boolean } = {}): Tensor {
  sameSize('add + relu', a, b);
  return launchPair('add_relu', a, 'a', b, 'b', options.inPlace);
}

/**
 * An elementwise kernel of two same-size operands: `entry` writes `out`, `${entry}_inplace` writes into the first
 * operand (bound as `inout`) and returns it.
 */
function launchPair(entry: string, first: Tensor, firstName: string, second: Tensor, secondName: string, inPlace = false): Tensor {
  const n = first.size;
  const out = inPlace ? first : Tensor.empty(first.rt, first.shape);
  if (n === 0) return out;
  if (inPlace) {
    first.rt.launch({ shader: 'relu', entry: `${entry}_inplace`, bindings: { inout: first, [secondName]: second }, needs: { inout: n, [secondName]: n }, uniforms: { n }, elements: n });
  } else {
    first.rt.launch({ shader: 'relu', entry, bindings: { [firstName]: first, [secondName]: second, out }, needs: { [firstName]: n, [secondName]: n, out: n }, uniforms: { n }, elements: n });
  }
  return out;
}
