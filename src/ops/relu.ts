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
  const n = dy.size;
  if (options.inPlace) {
    if (n > 0) dy.rt.launch({ shader: 'relu', entry: 'relu_backward_inplace', bindings: { inout: dy, y }, needs: { inout: n, y: n }, uniforms: { n }, invocations: n });
    return dy;
  }
  const dx = Tensor.empty(dy.rt, dy.shape);
  if (n > 0) dy.rt.launch({ shader: 'relu', entry: 'relu_backward', bindings: { dy, y, out: dx }, needs: { dy: n, y: n, out: n }, uniforms: { n }, invocations: n });
  return dx;
}

/**
 * relu(a + b), the residual block's output; its backward is reluBackward on this output, the add passing the
 * gradient to both operands unchanged. inPlace writes into a and returns it.
 */
export function addRelu(a: Tensor, b: Tensor, options: { inPlace?: boolean } = {}): Tensor {
  sameSize('add + relu', a, b);
  const n = a.size;
  if (options.inPlace) {
    if (n > 0) a.rt.launch({ shader: 'relu', entry: 'add_relu_inplace', bindings: { inout: a, b }, needs: { inout: n, b: n }, uniforms: { n }, invocations: n });
    return a;
  }
  const out = Tensor.empty(a.rt, a.shape);
  if (n > 0) a.rt.launch({ shader: 'relu', entry: 'add_relu', bindings: { a, b, out }, needs: { a: n, b: n, out: n }, uniforms: { n }, invocations: n });
  return out;
}
