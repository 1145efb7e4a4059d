// Linear layer y = x W^T + b with PyTorch's weight layout W [out, in], built on the batched matmul (whose
// transposed operands are read in place, no transpose pass) and the broadcasting add.
import { Tensor } from '../tensor.ts';
import { matmul } from './matmul.ts';
import { add } from './elementwise.ts';
import { sum } from './reduce.ts';

export interface LinearSaved {
  /** Borrowed: the backward reads them, so they must live until then. */
  x: Tensor;
  weight: Tensor;
  hasBias: boolean;
}

function features(x: Tensor, weight: Tensor, bias: Tensor | null): { rows: number; inFeatures: number; outFeatures: number } {
  if (x.shape.length !== 2) throw new Error(`linear: x must be [rows, in], got [${x.shape}]`);
  if (weight.shape.length !== 2 || weight.shape[1] !== x.shape[1]) throw new Error(`linear: weight must be [out, ${x.shape[1]}], got [${weight.shape}]`);
  const outFeatures = weight.shape[0];
  if (bias && (bias.shape.length !== 1 || bias.shape[0] !== outFeatures)) throw new Error(`linear: bias must be [${outFeatures}], got [${bias.shape}]`);
  return { rows: x.shape[0], inFeatures: x.shape[1], outFeatures };
}

/** y [rows, out] = x [rows, in] W^T + b. */
export function linear(x: Tensor, weight: Tensor, bias: Tensor | null = null): { y: Tensor; saved: LinearSaved } {
  features(x, weight, bias);
  const product = matmul(x, weight, { transB: true });
  if (!bias) return { y: product, saved: { x, weight, hasBias: false } };
  const y = add(product, bias);
  product.dispose();
  return { y, saved: { x, weight, hasBias: true } };
}

export interface LinearGradients { dx: Tensor; dWeight: Tensor; dBias: Tensor | null }

/** dx = dy W [rows, in], dW = dy^T x [out, in], db = sum over rows of dy [out]. */
export function linearBackward(dy: Tensor, saved: LinearSaved): LinearGradients {
  const { x, weight, hasBias } = saved;
  const { rows, outFeatures } = features(x, weight, null);
  if (dy.shape.length !== 2 || dy.shape[0] !== rows || dy.shape[1] !== outFeatures) throw new Error(`linearBackward: dy must be [${rows}, ${outFeatures}], got [${dy.shape}]`);
  return {
    dx: matmul(dy, weight),
    dWeight: matmul(dy, x, { transA: true }),
    dBias: hasBias ? sum(dy, 0) : null,
  };
}
