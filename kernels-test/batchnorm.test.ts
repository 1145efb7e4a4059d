// Batch-norm: the GPU against the float64 reference (validation cases), the reference backward against float64
// finite differences of the reference forward, the GPU backward against f32 finite differences of the GPU
// forward, PyTorch's running-statistics convention, argument checks and leaks.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { getRuntime } from '../src/gpu/runtime.ts';
import { Tensor } from '../src/tensor.ts';
import { uniformArray } from '../src/rng.ts';
import { batchNormBackward, batchNormEval, batchNormPlan, batchNormTrain } from '../src/ops/batchnorm.ts';
import { batchNormBackwardReference, batchNormTrainReference } from '../src/reference/batchnorm.ts';
import { gpuNumericGradient, numericGradient, project, spreadIndices } from '../src/reference/gradcheck.ts';
import { compare } from '../src/reference/compare.ts';
import { batchNormTrainBounds } from '../src/validate/batchnorm.ts';
import { unary } from '../src/ops/elementwise.ts';
import { reluBackward } from '../src/ops/relu.ts';

const rt = await getRuntime();
const numel = (shape: number[]) => shape.reduce((p, d) => p * d, 1);

// Each kernel's validation cases run in kernels.test.ts with every other kernel's.
// Rows = 3 is the smallest batch here; [1, 4, 4, 1] is a single channel; [2, 3, 2, 3] several of each.
for (const shape of [[2, 3, 2, 3], [1, 1, 3, 2], [1, 4, 4, 1]]) {
  test(`reference backward equals float64 finite differences of the training forward ${JSON.stringify(shape)}`, () => {
    const C = shape[3];
    const x = Float64Array.from(uniformArray(numel(shape), 21, 1, -1, 2));
    const g = Float64Array.from(uniformArray(C, 21, 2, -1.5, 1.5));
    const b = Float64Array.from(uniformArray(C, 21, 3, -1, 1));
    const w = Float64Array.from(uniformArray(numel(shape), 21, 4, -1, 1));
    const zeros = new Float64Array(C), ones = new Float64Array(C).fill(1);
    const loss = (xv: ArrayLike<number>, gv: ArrayLike<number>, bv: ArrayLike<number>) => project(batchNormTrainReference(xv, C, gv, bv, zeros, ones, 0.1, 1e-5).y, w);
    const forward = batchNormTrainReference(x, C, g, b, zeros, ones, 0.1, 1e-5);
    const analytic = batchNormBackwardReference(w, x, C, g, forward.mean, forward.invStd);
    // Central differences with h = 1e-6: truncation h^2/6 |L'''| ~ 1e-12 for these O(1) statistics, float64
    // rounding of L (~ 1e-16 * sum|w y| ~ 1e-15) over 2h ~ 1e-9. 1e-7 leaves room and still catches any
    // missing term of the gradient (they are O(1/n) ~ 0.1 here).
    const tol = { atol: 1e-7, rtol: 1e-7 };
    const dx = compare(analytic.dx, numericGradient((v) => loss(v, g, b), x), tol);
    const dgamma = compare(analytic.dgamma, numericGradient((v) => loss(x, v, b), g), tol);
    const dbeta = compare(analytic.dbeta, numericGradient((v) => loss(x, g, v), b), tol);
    assert.ok(dx.pass, `dx: max abs ${dx.maxAbs}`);
    assert.ok(dgamma.pass, `dgamma: max abs ${dgamma.maxAbs}`);
    assert.ok(dbeta.pass, `dbeta: max abs ${dbeta.maxAbs}`);
  });
}

// The fused ReLU does the same arithmetic as batch-norm followed by the (separately checked) ReLU, so both
// directions must agree bit for bit with the two ops run one after the other.
test('batch-norm with the fused ReLU equals batch-norm then ReLU, forward and backward, bit for bit', async () => {
  for (const shape of [[2, 5, 3, 3], [3, 4, 4, 64], [1, 7, 7, 1]]) {
    const C = shape[3];
    const [tx, tdy] = [1, 2].map((k) => Tensor.upload(rt, uniformArray(numel(shape), 23, k, -1, 2), shape));
    // |gamma| >= 0.5 and |beta| <= 0.5: every channel's outputs fall on both sides of 0.
    const tg = Tensor.upload(rt, uniformArray(C, 23, 3, 0.5, 1.5)), tb = Tensor.upload(rt, uniformArray(C, 23, 4, -0.5, 0.5));
    const stats = () => [Tensor.upload(rt, new Float32Array(C)), Tensor.upload(rt, new Float32Array(C).fill(1))];
    const [m1, v1] = stats(), [m2, v2] = stats();
    const fused = batchNormTrain(tx, tg, tb, m1, v1, { relu: true });
    const plain = batchNormTrain(tx, tg, tb, m2, v2);
    const relued = unary('relu', plain.y);
    const fusedBack = batchNormBackward(tdy, tx, tg, fused.mean, fused.invStd, fused.y);
    const gated = reluBackward(tdy, relued);
    const plainBack = batchNormBackward(gated, tx, tg, plain.mean, plain.invStd);
    assert.equal(await fused.y.download(), await relued.download(), `forward ${shape}`);
    assert.equal(await fusedBack.dx.download(), await plainBack.dx.download(), `dx ${shape}`);
    assert.equal(await fusedBack.dgamma.download(), await plainBack.dgamma.download(), `dgamma ${shape}`);
    assert.equal(await fusedBack.dbeta.download(), await plainBack.dbeta.download(), `dbeta ${shape}`);
    const clipped = (await relued.download()).filter((v) => v === 0).length;
    assert.ok(clipped > 0 && clipped < numel(shape), `${shape}: the ReLU clipped nothing or everything; the case proves little`);
    for (const t of [tx, tdy, tg, tb, m1, v1, m2, v2, fused.y, fused.mean, fused.invStd, plain.y, plain.mean, plain.invStd, relued, gated,
      fusedBack.dx, fusedBack.dgamma, fusedBack.dbeta, plainBack.dx, plainBack.dgamma, plainBack.dbeta]) t.dispose();
  }
});

test('GPU backward matches f32 finite differences of the GPU training forward at spot coordinates', async () => {
  const shape = [1, 3, 3, 2], C = 2;
  const x = uniformArray(numel(shape), 22, 1, -1, 2);
  const g = uniformArray(C, 22, 2, 0.5, 1.5), b = uniformArray(C, 22, 3, -1, 1);
  const w = uniformArray(numel(shape), 22, 4, -1, 1);
  const tg = Tensor.upload(rt, g), tb = Tensor.upload(rt, b);
  const scratchMean = Tensor.upload(rt, new Float32Array(C)), scratchVar = Tensor.upload(rt, new Float32Array(C).fill(1));
  const gpuLoss = async (xv: Float32Array, gv: Tensor = tg) => {
    const tx = Tensor.upload(rt, xv, shape);
    const out = batchNormTrain(tx, gv, tb, scratchMean, scratchVar);
    const y = await out.y.download();
    for (const t of [tx, out.y, out.mean, out.invStd]) t.dispose();
    return project(y, w);
  };
  const tx = Tensor.upload(rt, x, shape), tw = Tensor.upload(rt, w, shape);
  const forward = batchNormTrain(tx, tg, tb, scratchMean, scratchVar);
  const back = batchNormBackward(tw, tx, tg, forward.mean, forward.invStd);
  const dx = await back.dx.download(), dgamma = await back.dgamma.download();
  for (const t of [tx, tw, forward.y, forward.mean, forward.invStd, back.dx, back.dgamma, back.dbeta]) t.dispose();

  // Each f32 evaluation of L = sum w y is off by at most sum |w_i| bound_i (the validation's rounding bound
  // of y), and each difference quotient divides two such errors by the step 2h; the truncation error of the
  // same quotient, measured on the float64 reference with the same step, is added.
  const h = 1e-3;
  const ref = batchNormTrainReference(x, C, g, b, new Float64Array(C), new Float64Array(C).fill(1), 0.1, 1e-5);
  const bounds = batchNormTrainBounds(x, C, batchNormPlan(shape).chainLength, g, ref, new Float64Array(C), new Float64Array(C).fill(1), 0.1, 1e-5);
  let lossBound = 0;
  for (let i = 0; i < w.length; i++) lossBound += Math.abs(w[i]) * (bounds.y.bound![i] + bounds.y.rtol * Math.abs(ref.y[i]));
  const refLoss = (xv: ArrayLike<number>) => project(batchNormTrainReference(xv, C, g, b, new Float64Array(C), new Float64Array(C).fill(1), 0.1, 1e-5).y, w);
  const exact = batchNormBackwardReference(w, x, C, g, ref.mean, ref.invStd).dx;

  const indices = spreadIndices(x.length, 6);
  const numeric = await gpuNumericGradient((xv) => gpuLoss(xv), x, indices, h);
  const truncation = numericGradient(refLoss, x, h, indices);
  for (const [k, i] of indices.entries()) {
    const allowed = (2 * lossBound) / (2 * h) * 1.01 + Math.abs(truncation[i] - exact[i]);
    assert.ok(Math.abs(numeric[k] - dx[i]) <= allowed, `dx[${i}]: backward ${dx[i]}, finite differences ${numeric[k]} (allowed ${allowed})`);
  }
  // L is linear in gamma: no truncation error, only the rounding of the two evaluations.
  const numericGamma = await gpuNumericGradient(async (gv) => {
    const t = Tensor.upload(rt, gv);
    const l = await gpuLoss(x, t);
    t.dispose();
    return l;
  }, g, [0, 1], h);
  for (let c = 0; c < C; c++) {
    const allowed = (2 * lossBound) / (2 * h) * 1.01;
    assert.ok(Math.abs(numericGamma[c] - dgamma[c]) <= allowed, `dgamma[${c}]: backward ${dgamma[c]}, finite differences ${numericGamma[c]}`);
  }
  for (const t of [tg, tb, scratchMean, scratchVar]) t.dispose();
});

test('running statistics follow PyTorch: (1 - m) running + m batch, unbiased variance, over two steps', async () => {
  const shape = [2, 2, 3, 3], C = 3, momentum = 0.25;
  const g = new Float32Array(C).fill(1), b = new Float32Array(C);
  const tg = Tensor.upload(rt, g), tb = Tensor.upload(rt, b);
  const runningMean = Tensor.upload(rt, new Float32Array(C)), runningVar = Tensor.upload(rt, new Float32Array(C).fill(1));
  let refMean: ArrayLike<number> = new Float64Array(C), refVar: ArrayLike<number> = new Float64Array(C).fill(1);
  for (let step = 0; step < 2; step++) {
    const x = uniformArray(numel(shape), 23, step, -2, 4);
    const tx = Tensor.upload(rt, x, shape);
    const out = batchNormTrain(tx, tg, tb, runningMean, runningVar, { momentum });
    for (const t of [tx, out.y, out.mean, out.invStd]) t.dispose();
    const ref = batchNormTrainReference(x, C, g, b, refMean, refVar, momentum, 1e-5);
    // By hand for channel 0: the unbiased variance is n/(n-1) times the biased one.
    const n = numel(shape) / C;
    const column = Array.from({ length: n }, (_, r) => x[r * C]);
    const mu = column.reduce((s, v) => s + v, 0) / n;
    const unbiased = column.reduce((s, v) => s + (v - mu) ** 2, 0) / (n - 1);
    assert.ok(Math.abs(ref.runningVar[0] - ((1 - momentum) * refVar[0] + momentum * unbiased)) < 1e-12, 'reference running variance');
    refMean = ref.runningMean;
    refVar = ref.runningVar;
  }
  const gotMean = await runningMean.download(), gotVar = await runningVar.download();
  // Per step, the validation's bound: m delta + gamma_4 |terms| with delta <= gamma_15 max|x| = 15u * 4, under
  // 2e-6 for values this size; 1e-5 covers two steps and still catches a biased running variance (n/(n-1) =
  // 12/11 changes it by 9%, ~0.05 here).
  assert.ok(compare(gotMean, refMean, { atol: 1e-5, rtol: 0 }).pass, `running mean ${Array.from(gotMean)} vs ${Array.from(refMean)}`);
  assert.ok(compare(gotVar, refVar, { atol: 1e-5, rtol: 0 }).pass, `running var ${Array.from(gotVar)} vs ${Array.from(refVar)}`);
  // Eval with the updated running statistics is the affine map they define (within gamma_9 |y|, as in the
  // validation's eval cases: 9u |y| < 1e-6 (1 + |y|)).
  const x = uniformArray(numel(shape), 23, 9, -1, 1);
  const tx = Tensor.upload(rt, x, shape);
  const y = batchNormEval(tx, tg, tb, runningMean, runningVar);
  const gotY = await y.download();
  const expected = Float64Array.from(x, (v, i) => (v - gotMean[i % C]) / Math.sqrt(gotVar[i % C] + 1e-5));
  assert.ok(compare(gotY, expected, { atol: 1e-6, rtol: 1e-6 }).pass);
  for (const t of [tx, y, tg, tb, runningMean, runningVar]) t.dispose();
});

test('training on one value per channel and mismatched parameters are rejected', () => {
  const x = Tensor.empty(rt, [1, 1, 1, 4]);
  const p = Tensor.empty(rt, [4]), wrong = Tensor.empty(rt, [3]);
  assert.throws(() => batchNormTrain(x, p, p, p, p), /more than one value per channel/);
  const x2 = Tensor.empty(rt, [2, 1, 1, 4]);
  assert.throws(() => batchNormTrain(x2, wrong, p, p, p), /gamma has 3 elements, expected one per channel \(4\)/);
  const flat = Tensor.empty(rt, [4, 4]);
  assert.throws(() => batchNormEval(flat, p, p, p, p), /NHWC/);
  for (const t of [x, p, wrong, x2, flat]) t.dispose();
});

test('a training step and its backward leak no buffers', async () => {
  await rt.sync();
  const before = rt.pool.report().liveBytes;
  const shape = [2, 5, 5, 8], C = 8;
  const params = [Tensor.upload(rt, new Float32Array(C).fill(1)), Tensor.upload(rt, new Float32Array(C)), Tensor.upload(rt, new Float32Array(C)), Tensor.upload(rt, new Float32Array(C).fill(1))];
  const x = Tensor.upload(rt, uniformArray(numel(shape), 24, 1), shape);
  for (let step = 0; step < 3; step++) {
    const out = batchNormTrain(x, params[0], params[1], params[2], params[3]);
    const back = batchNormBackward(out.y, x, params[0], out.mean, out.invStd);
    const evalOut = batchNormEval(x, params[0], params[1], params[2], params[3]);
    for (const t of [out.y, out.mean, out.invStd, back.dx, back.dgamma, back.dbeta, evalOut]) t.dispose();
  }
  x.dispose();
  for (const t of params) t.dispose();
  await rt.sync();
  assert.is(rt.pool.report().liveBytes, before);
});

test.run();
