// Softmax cross-entropy: the GPU kernels against the float64 reference, the reference backward against finite
// differences of the reference forward, and a finite-difference spot check of the GPU backward.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { getRuntime } from '../src/gpu/runtime.ts';
import { Tensor } from '../src/tensor.ts';
import { uniformArray } from '../src/rng.ts';
import { compare } from '../src/reference/compare.ts';
import { gpuNumericGradient, numericGradient, project, spreadIndices } from '../src/reference/gradcheck.ts';
import { softmaxCrossEntropy, softmaxCrossEntropyBackward } from '../src/ops/loss.ts';
import { softmaxCrossEntropyBackwardReference, softmaxCrossEntropyReference } from '../src/reference/loss.ts';
import { crossEntropyBackwardTolerance, crossEntropyTolerances } from '../src/validate/loss.ts';


// Each kernel's validation cases run in kernels.test.ts with every other kernel's.
function labelsFor(rows: number, classes: number, stream: number): Uint32Array {
  return Uint32Array.from(uniformArray(rows, 5, stream, 0, classes), (u) => Math.min(classes - 1, Math.floor(u)));
}

test('the reference backward is the numeric gradient of the reference forward (with and without smoothing)', () => {
  for (const [rows, classes, smoothing] of [[3, 5, 0], [3, 5, 0.2], [2, 1, 0.1], [4, 37, 0.1], [2, 1000, 0]]) {
    const logits = uniformArray(rows * classes, 5, 1, -4, 4);
    const labels = labelsFor(rows, classes, 2);
    // Per-sample weights (the per-sample loss output) and the mean loss (one weight 1 / rows for every row).
    for (const weights of [uniformArray(rows, 5, 3, -1, 1), Float64Array.of(1 / rows)]) {
      const perRow = weights.length === 1 ? new Float64Array(rows).fill(weights[0]) : weights;
      const f = (x: Float64Array) => project(softmaxCrossEntropyReference(x, labels, rows, classes, smoothing).loss, perRow);
      const numeric = numericGradient(f, logits, 1e-6);
      const analytic = softmaxCrossEntropyBackwardReference(logits, labels, rows, classes, smoothing, weights);
      // Central differences in float64 with eps 1e-6: truncation ~eps^2 |f'''| < 1e-12, rounding ~1e-16 |f| / eps
      // < 1e-9 for |f| < 10.
      const r = compare(numeric, analytic, { atol: 1e-8, rtol: 0 });
      assert.ok(r.pass, `${rows}x${classes} s=${smoothing} weights ${weights.length}: max abs ${r.maxAbs}`);
    }
  }
});

test('the GPU backward agrees with central differences of the GPU forward', async () => {
  const rt = await getRuntime();
  for (const [rows, classes, smoothing] of [[4, 10, 0], [4, 10, 0.1], [3, 37, 0.2]]) {
    const logits = uniformArray(rows * classes, 9, 1, -4, 4);
    const labels = labelsFor(rows, classes, 3);
    const weights = uniformArray(rows, 9, 2, 0.5, 1.5);
    const tl = Tensor.upload(rt, logits, [rows, classes]), ty = Tensor.upload(rt, labels, [rows], 'u32'), tw = Tensor.upload(rt, weights);
    const out = softmaxCrossEntropy(tl, ty, { labelSmoothing: smoothing });
    const lse = await out.saved.lse.download();
    const analytic = await softmaxCrossEntropyBackward(out.saved, { dloss: tw }).download();
    for (const t of [out.loss, out.meanLoss, out.predicted, out.correct, out.saved.lse, tl, tw]) t.dispose();
    const lossAt = async (x: Float32Array) => {
      const tx = Tensor.upload(rt, x, [rows, classes]);
      const o = softmaxCrossEntropy(tx, ty, { labelSmoothing: smoothing });
      const loss = await o.loss.download();
      for (const t of [o.loss, o.meanLoss, o.predicted, o.correct, o.saved.lse, tx]) t.dispose();
      return project(loss, weights);
    };
    const indices = spreadIndices(rows * classes, 7);
    const eps = 1e-3;
    const numeric = await gpuNumericGradient(lossAt, logits, indices, eps);
    const forward = crossEntropyTolerances(logits, rows, classes).loss;
    const backward = crossEntropyBackwardTolerance(logits, rows, classes, lse, 1.5);
    const ref = softmaxCrossEntropyReference(logits, labels, rows, classes, smoothing);
    indices.forEach((i, k) => {
      const row = Math.floor(i / classes);
      // Only row `row` changes between the two evaluations, so the other rows' rounding cancels; this row's loss
      // is within atol + rtol * loss each time (|d loss / dx| <= 1, so the loss there is within eps of ref.loss),
      // divided by the step (2 eps). Truncation: |d^3 lse / dx^3| = |p (1 - p)(1 - 2p)| <= 0.1, times eps^2 / 6.
      // Plus the GPU backward's own bound.
      const lossError = forward.atol + forward.rtol * (ref.loss[row] + eps);
      const allowed = weights[row] * (2 * lossError / (2 * eps) + 0.1 * eps * eps / 6) + backward.atol + backward.rtol * Math.abs(analytic[i]);
      assert.ok(Math.abs(numeric[k] - analytic[i]) <= allowed, `${rows}x${classes} s=${smoothing} logit ${i}: numeric ${numeric[k]}, backward ${analytic[i]}, allowed ${allowed}`);
    });
    ty.dispose();
  }
});

test('a label out of range poisons its own row only (NaN loss, NaN gradients, NaN mean)', async () => {
  const rt = await getRuntime();
  const tl = Tensor.upload(rt, uniformArray(12, 4, 1, -1, 1), [3, 4]), ty = Tensor.upload(rt, [0, 4, 3], [3], 'u32');
  const out = softmaxCrossEntropy(tl, ty);
  const loss = await out.loss.download();
  assert.ok(Number.isFinite(loss[0]) && Number.isNaN(loss[1]) && Number.isFinite(loss[2]), `loss ${[...loss]}`);
  assert.ok(Number.isNaN((await out.meanLoss.download())[0]));
  const dlogits = await softmaxCrossEntropyBackward(out.saved).download();
  assert.ok(dlogits.slice(4, 8).every(Number.isNaN) && dlogits.slice(0, 4).every(Number.isFinite) && dlogits.slice(8).every(Number.isFinite));
  for (const t of [out.loss, out.meanLoss, out.predicted, out.correct, out.saved.lse, tl, ty]) t.dispose();
});

test('prediction is the first of tied maxima, and correct follows it', async () => {
  const rt = await getRuntime();
  const tl = Tensor.upload(rt, [1, 3, 3, 0, /**/ 2, 2, 2, 2, /**/ -1, -5, -0.5, -0.5], [3, 4]), ty = Tensor.upload(rt, [1, 1, 2], [3], 'u32');
  const out = softmaxCrossEntropy(tl, ty);
  assert.equal([...await out.predicted.download()], [1, 0, 2]);
  assert.equal([...await out.correct.download()], [1, 0, 1]);
  for (const t of [out.loss, out.meanLoss, out.predicted, out.correct, out.saved.lse, tl, ty]) t.dispose();
});

test('forward and backward leak nothing; bad arguments are refused before anything is allocated', async () => {
  const rt = await getRuntime();
  await rt.sync();
  const start = rt.pool.report().liveBytes;
  const tl = Tensor.upload(rt, uniformArray(20, 4, 2, -1, 1), [4, 5]), ty = Tensor.upload(rt, [0, 1, 2, 3], [4], 'u32');
  const floatLabels = Tensor.upload(rt, [0, 1, 2, 3], [4], 'f32'), threeValues = Tensor.upload(rt, [1, 2, 3]);
  const out = softmaxCrossEntropy(tl, ty, { labelSmoothing: 0.1 });
  const dlogits = softmaxCrossEntropyBackward(out.saved);
  for (const t of [out.loss, out.meanLoss, out.predicted, out.correct, out.saved.lse, dlogits]) t.dispose();
  const before = rt.pool.report().liveBytes;
  assert.throws(() => softmaxCrossEntropy(tl, floatLabels), /labels must be u32 \[4\]/);
  assert.throws(() => softmaxCrossEntropy(tl, ty, { labelSmoothing: 1.5 }), /label smoothing must lie in \[0, 1\]/);
  assert.throws(() => softmaxCrossEntropy(tl.reshape([20]), ty), /logits must be f32 \[rows, classes\]/);
  assert.throws(() => softmaxCrossEntropyBackward({ logits: tl, labels: ty, lse: floatLabels, labelSmoothing: 0 }, { dloss: threeValues }), /dloss must be f32 \[4\] or \[1\]/);
  assert.is(rt.pool.report().liveBytes, before, 'a refused call allocated');
  tl.dispose(); ty.dispose(); floatLabels.dispose(); threeValues.dispose();
  await rt.sync();
  assert.is(rt.pool.report().liveBytes, start);
});

test.run();
