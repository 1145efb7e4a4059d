// Linear layer: the GPU forward and backward against the float64 reference, the reference backward (dx, dW, db)
// against finite differences of the reference forward, and a finite-difference spot check on the GPU.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { getRuntime } from '../src/gpu/runtime.ts';
import { Tensor } from '../src/tensor.ts';
import { uniformArray } from '../src/rng.ts';
import { compare } from '../src/reference/compare.ts';
import { gpuNumericGradient, numericGradient, project, spreadIndices } from '../src/reference/gradcheck.ts';
import { linear, linearBackward } from '../src/ops/linear.ts';
import { linearBackwardReference, linearReference, type LinearShape } from '../src/reference/linear.ts';
import { linearTolerances } from '../src/validate/linear.ts';

// Each kernel's validation cases run in kernels.test.ts with every other kernel's.
const SHAPES: LinearShape[] = [
  { rows: 1, inFeatures: 1, outFeatures: 1 },
  { rows: 3, inFeatures: 5, outFeatures: 4 },
  { rows: 2, inFeatures: 7, outFeatures: 1 },
];

test('the reference backward (dx, dW, db) is the numeric gradient of the reference forward', () => {
  for (const s of SHAPES) {
    const x = uniformArray(s.rows * s.inFeatures, 6, 1, -1, 1);
    const weight = uniformArray(s.outFeatures * s.inFeatures, 6, 2, -1, 1);
    const bias = uniformArray(s.outFeatures, 6, 3, -1, 1);
    const dy = uniformArray(s.rows * s.outFeatures, 6, 4, -1, 1);
    const grads = linearBackwardReference(dy, x, weight, s);
    // The projection is bilinear in (x, W) and linear in b, so central differences have no truncation error;
    // float64 rounding of sums of < 100 terms of size <= 1 over a step of 1e-6 stays below 1e-8.
    const tolerance = { atol: 1e-8, rtol: 0 };
    const checks: [string, Float64Array, Float64Array][] = [
      ['dx', numericGradient((v) => project(linearReference(v, weight, bias, s), dy), x), grads.dx],
      ['dW', numericGradient((v) => project(linearReference(x, v, bias, s), dy), weight), grads.dWeight],
      ['db', numericGradient((v) => project(linearReference(x, weight, v, s), dy), bias), grads.dBias],
    ];
    for (const [name, numeric, analytic] of checks) {
      const r = compare(numeric, analytic, tolerance);
      assert.ok(r.pass, `${name} of ${JSON.stringify(s)}: max abs ${r.maxAbs}`);
    }
  }
});

test('the GPU backward agrees with central differences of the GPU forward', async () => {
  const rt = await getRuntime();
  const s = { rows: 3, inFeatures: 5, outFeatures: 4, bias: true };
  const x = uniformArray(s.rows * s.inFeatures, 8, 1, -1, 1);
  const weight = uniformArray(s.outFeatures * s.inFeatures, 8, 2, -1, 1);
  const bias = uniformArray(s.outFeatures, 8, 3, -1, 1);
  const dy = uniformArray(s.rows * s.outFeatures, 8, 4, -1, 1);
  const tx = Tensor.upload(rt, x, [s.rows, s.inFeatures]), tw = Tensor.upload(rt, weight, [s.outFeatures, s.inFeatures]);
  const tb = Tensor.upload(rt, bias), tdy = Tensor.upload(rt, dy, [s.rows, s.outFeatures]);
  const forward = linear(tx, tw, tb);
  forward.y.dispose();
  const grads = linearBackward(tdy, forward.saved);
  const [dx, dW, db] = [await grads.dx.download(), await grads.dWeight.download(), await grads.dBias!.download()];
  grads.dx.dispose(); grads.dWeight.dispose(); grads.dBias!.dispose(); tdy.dispose();
  const yAt = async (xs: Float32Array, ws: Float32Array, bs: Float32Array) => {
    const [a, b, c] = [Tensor.upload(rt, xs, [s.rows, s.inFeatures]), Tensor.upload(rt, ws, [s.outFeatures, s.inFeatures]), Tensor.upload(rt, bs)];
    const { y } = linear(a, b, c);
    const out = await y.download();
    a.dispose(); b.dispose(); c.dispose(); y.dispose();
    return project(out, dy);
  };
  const tol = linearTolerances(s);
  const eps = 1e-3;
  // The projection is linear in each coordinate, so only rounding separates the difference quotient from the
  // gradient: each evaluation is off by at most sum |dy| * tol.y.atol over the outputs the coordinate reaches
  // (one row of y for x, one column for W and b), and the quotient divides two of them by the step 2 eps. The GPU
  // backward adds its own bound.
  const rowReach = s.outFeatures * tol.y.atol / eps, columnReach = s.rows * tol.y.atol / eps;
  const checks: [string, Float32Array, ArrayLike<number>, (v: Float32Array) => Promise<number>, number, number][] = [
    ['dx', x, dx, (v) => yAt(v, weight, bias), rowReach, tol.dx.atol],
    ['dW', weight, dW, (v) => yAt(x, v, bias), columnReach, tol.dWeight.atol],
    ['db', bias, db, (v) => yAt(x, weight, v), columnReach, tol.dBias.atol],
  ];
  for (const [name, point, analytic, f, reach, backwardAtol] of checks) {
    const indices = spreadIndices(point.length, 5);
    const numeric = await gpuNumericGradient(f, point, indices, eps);
    indices.forEach((i, k) => {
      const allowed = reach + backwardAtol;
      assert.ok(Math.abs(numeric[k] - analytic[i]) <= allowed, `${name}[${i}]: numeric ${numeric[k]}, backward ${analytic[i]}, allowed ${allowed}`);
    });
  }
  tx.dispose(); tw.dispose(); tb.dispose();
});

test('no bias gives no bias gradient; wrong shapes are refused; nothing leaks', async () => {
  const rt = await getRuntime();
  await rt.sync();
  const start = rt.pool.report().liveBytes;
  const x = Tensor.upload(rt, uniformArray(6, 2, 1, -1, 1), [2, 3]), w = Tensor.upload(rt, uniformArray(12, 2, 2, -1, 1), [4, 3]);
  const { y, saved } = linear(x, w);
  assert.equal(y.shape, [2, 4]);
  const grads = linearBackward(y, saved);
  assert.is(grads.dBias, null);
  assert.equal(grads.dx.shape, [2, 3]);
  assert.equal(grads.dWeight.shape, [4, 3]);
  assert.throws(() => linear(x, w.reshape([3, 4])), /weight must be \[out, 3\], got \[3,4\]/);
  assert.throws(() => linear(x, w, x), /bias must be \[4\]/);
  assert.throws(() => linearBackward(x, saved), /dy must be \[2, 4\]/);
  for (const t of [y, grads.dx, grads.dWeight, x, w]) t.dispose();
  await rt.sync();
  assert.is(rt.pool.report().liveBytes, start);
});

test.run();
