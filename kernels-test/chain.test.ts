// A residual block's chain end to end, forward and backward, GPU against the float64 reference chain:
// y = conv2(relu(bn(conv1(x)))) + x, the shape of ResNet's BasicBlock minus its second batch-norm.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { getRuntime } from '../src/gpu/runtime.ts';
import { Tensor } from '../src/tensor.ts';
import { uniformArray } from '../src/rng.ts';
import { conv2d, conv2dBackwardInput, conv2dBackwardWeight, convGeometry } from '../src/ops/conv.ts';
import { batchNormBackward, batchNormTrain } from '../src/ops/batchnorm.ts';
import { reluBackward } from '../src/ops/relu.ts';
import { add, unary } from '../src/ops/elementwise.ts';
import { convBackwardInputReference, convBackwardWeightReference, convForwardReference } from '../src/reference/conv.ts';
import { batchNormBackwardReference, batchNormTrainReference } from '../src/reference/batchnorm.ts';
import { compare } from '../src/reference/compare.ts';
import { numericGradient, project, spreadIndices } from '../src/reference/gradcheck.ts';

const [N, H, W, C] = [2, 6, 5, 4];
const shape = [N, H, W, C], wShape = [C, 3, 3, C];
const opts = { stride: 1, padding: 1 };
const g = convGeometry(shape, wShape, opts);
const x = uniformArray(N * H * W * C, 21, 1, -1, 1);
const w1 = uniformArray(C * 9 * C, 21, 2, -0.5, 0.5);
const w2 = uniformArray(C * 9 * C, 21, 3, -0.5, 0.5);
const gamma = uniformArray(C, 21, 4, 0.5, 1.5);
const beta = uniformArray(C, 21, 5, -0.5, 0.5);
const proj = uniformArray(N * H * W * C, 21, 6, -1, 1);

/** The reference chain in float64: forward, and backward of L = sum proj * y. */
function referenceChain(xv: ArrayLike<number>) {
  const h1 = convForwardReference(xv, w1, null, g);
  const bn = batchNormTrainReference(h1, C, gamma, beta, new Float64Array(C), new Float64Array(C).fill(1), 0.1, 1e-5);
  const r = bn.y.map((v) => Math.max(v, 0));
  const y = convForwardReference(r, w2, null, g).map((v, i) => v + xv[i]);
  const dr = convBackwardInputReference(proj, w2, g);
  const dw2 = convBackwardWeightReference(proj, r, g);
  const dbnOut = dr.map((v, i) => (r[i] > 0 ? v : 0));
  const bnGrad = batchNormBackwardReference(dbnOut, h1, C, gamma, bn.mean, bn.invStd);
  const dx = convBackwardInputReference(bnGrad.dx, w1, g).map((v, i) => v + proj[i]);
  const dw1 = convBackwardWeightReference(bnGrad.dx, xv, g);
  return { y, dx, dw1, dw2, dgamma: bnGrad.dgamma, dbeta: bnGrad.dbeta };
}

// Every stage is a short dot product (K = 36) or a batch-norm over 60 rows, each within a few hundred f32 ULP of
// its own result; the chain passes the errors through two convs and a division by the batch std (here ~0.5-1),
// so 2e-5 of the largest magnitude leaves room for that amplification while a wrong index, a missing term or a
// dropped residual (errors of order 1e-1) cannot pass.
function close(got: ArrayLike<number>, ref: Float64Array, what: string) {
  const scale = ref.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  const r = compare(got, ref, { atol: 2e-5 * scale, rtol: 0 });
  assert.ok(r.pass, `${what}: max abs error ${r.maxAbs} against ${2e-5 * scale}`);
}

test('the reference chain backward equals float64 finite differences of its forward', () => {
  const ref = referenceChain(x);
  const indices = spreadIndices(x.length, 15);
  const fd = numericGradient((v) => project(referenceChain(v).y, proj), x, 1e-6, indices);
  const r = compare(indices.map((i) => ref.dx[i]), indices.map((i) => fd[i]), { atol: 1e-7, rtol: 1e-6 });
  assert.ok(r.pass, `max abs ${r.maxAbs}`);
});

test('GPU chain matches the reference chain, forward and backward', async () => {
  const rt = await getRuntime();
  const tx = Tensor.upload(rt, x, shape), tw1 = Tensor.upload(rt, w1, wShape), tw2 = Tensor.upload(rt, w2, wShape);
  const tg = Tensor.upload(rt, gamma), tb = Tensor.upload(rt, beta);
  const runMean = Tensor.upload(rt, new Float32Array(C)), runVar = Tensor.upload(rt, new Float32Array(C).fill(1));
  const before = rt.pool.report().liveBytes;
  // forward
  const h1 = conv2d(tx, tw1, null, opts);
  const bn = batchNormTrain(h1, tg, tb, runMean, runVar, { momentum: 0.1, eps: 1e-5 });
  const r = unary('relu', bn.y);
  const c2 = conv2d(r, tw2, null, opts);
  const y = add(c2, tx);
  // backward of L = sum proj * y
  const dy = Tensor.upload(rt, proj, shape);
  const dr = conv2dBackwardInput(dy, tw2, shape, opts);
  const dw2 = conv2dBackwardWeight(dy, r, wShape, opts);
  const dbnOut = reluBackward(dr, r);
  const bnGrad = batchNormBackward(dbnOut, h1, tg, bn.mean, bn.invStd);
  const dxConv = conv2dBackwardInput(bnGrad.dx, tw1, shape, opts);
  const dx = add(dxConv, dy);
  const dw1 = conv2dBackwardWeight(bnGrad.dx, tx, wShape, opts);

  const ref = referenceChain(x);
  close(await y.download(), ref.y, 'y');
  close(await dx.download(), ref.dx, 'dx');
  close(await dw1.download(), ref.dw1, 'dw1');
  close(await dw2.download(), ref.dw2, 'dw2');
  close(await bnGrad.dgamma.download(), ref.dgamma, 'dgamma');
  close(await bnGrad.dbeta.download(), ref.dbeta, 'dbeta');
  for (const t of [h1, bn.y, bn.mean, bn.invStd, r, c2, y, dy, dr, dw2, dbnOut, bnGrad.dx, bnGrad.dgamma, bnGrad.dbeta, dxConv, dx, dw1]) t.dispose();
  assert.is(rt.pool.report().liveBytes, before, 'the chain leaked GPU buffers');
  for (const t of [tx, tw1, tw2, tg, tb, runMean, runVar]) t.dispose();
});

test.run();
