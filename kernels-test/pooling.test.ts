// Max-pool and global average pool: the GPU against the float64 references (validation cases), PyTorch's
// semantics on hand-worked examples, the reference backwards against float64 finite differences, the GPU
// backwards against f32 finite differences of the GPU forwards, argument checks and leaks.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { getRuntime } from '../src/gpu/runtime.ts';
import { Tensor } from '../src/tensor.ts';
import { uniformArray, CpuRandom } from '../src/rng.ts';
import { globalAvgPool, globalAvgPoolBackward, globalAvgPoolPlan, maxPool2d, maxPool2dBackward, maxPoolGeometry } from '../src/ops/pool.ts';
import { globalAvgPoolBackwardReference, globalAvgPoolReference, maxPool2dBackwardReference, maxPool2dReference, type MaxPoolReferenceWindow } from '../src/reference/pool.ts';
import { gpuNumericGradient, numericGradient, project, spreadIndices } from '../src/reference/gradcheck.ts';
import { compare } from '../src/reference/compare.ts';

const rt = await getRuntime();
const numel = (shape: number[]) => shape.reduce((p, d) => p * d, 1);
const RESNET_WINDOW: MaxPoolReferenceWindow = { kernel: [3, 3], stride: [2, 2], padding: [1, 1] };

// Each kernel's validation cases run in kernels.test.ts with every other kernel's.
test('max-pool 3x3/2/1 on a 4x4 ramp and on all-negative input: padding never wins (PyTorch)', async () => {
  const ramp = Float32Array.from({ length: 16 }, (_, i) => i);
  for (const [x, y, argmax] of [
    [ramp, [5, 7, 13, 15], [5, 7, 13, 15]],
    [ramp.map((v) => -1 - v), [-1, -2, -5, -6], [0, 1, 4, 5]],
  ] as const) {
    const tx = Tensor.upload(rt, x, [1, 4, 4, 1]);
    const out = maxPool2d(tx);
    assert.equal(out.y.shape, [1, 2, 2, 1]);
    assert.equal([...await out.y.download()], y);
    assert.equal([...await out.argmax.download()], argmax);
    for (const t of [tx, out.y, out.argmax]) t.dispose();
  }
});

test('max-pool ties go to the first maximum in window order, and the gradient only to it', async () => {
  // One window (2x2 input, 3x3/2/1 gives 1x1) of equal values: PyTorch picks index 0.
  const tx = Tensor.upload(rt, [7, 7, 7, 7], [1, 2, 2, 1]);
  const out = maxPool2d(tx);
  assert.equal([...await out.argmax.download()], [0]);
  const dy = Tensor.upload(rt, [1], [1, 1, 1, 1]);
  const dx = maxPool2dBackward(dy, out.argmax, [1, 2, 2, 1]);
  assert.equal([...await dx.download()], [1, 0, 0, 0]);
  for (const t of [tx, out.y, out.argmax, dy, dx]) t.dispose();
});

test('output sizes follow floor((H + 2p - k) / s) + 1 (the ResNet stem: 112 -> 56)', () => {
  const g = maxPoolGeometry([32, 112, 112, 64]);
  assert.equal([g.outH, g.outW], [56, 56]);
  assert.equal([maxPoolGeometry([1, 7, 8, 1]).outH, maxPoolGeometry([1, 7, 8, 1]).outW], [4, 4]);
  const odd = maxPoolGeometry([1, 9, 10, 1], { kernel: [3, 2], stride: [2, 3], padding: [1, 0] });
  assert.equal([odd.outH, odd.outW], [5, 3]);
  assert.throws(() => maxPoolGeometry([1, 8, 8, 1], { kernel: 3, stride: 2, padding: 2 }), /padding 2x2 exceeds half the kernel/);
  assert.throws(() => maxPoolGeometry([1, 2, 2, 1], { kernel: 3, stride: 1, padding: 0 }), /smaller than the kernel/);
  assert.throws(() => maxPoolGeometry([4, 4, 1]), /NHWC/);
});

/** Distinct values 0.01 apart in random order: a step of 1e-3 never changes which element wins a window. */
function spacedValues(n: number, seed: number): Float64Array {
  const order = new CpuRandom(seed).permutation(n);
  return Float64Array.from(order, (k) => (k - n / 2) * 0.01);
}

const REFERENCE_FD_CASES: [number[], MaxPoolReferenceWindow][] = [
  [[2, 5, 7, 3], RESNET_WINDOW],
  [[1, 6, 5, 2], { kernel: [2, 3], stride: [1, 2], padding: [1, 1] }],
];

for (const [shape, window] of REFERENCE_FD_CASES) {
  test(`reference max-pool backward equals float64 finite differences ${JSON.stringify(shape)} k${window.kernel}`, () => {
    const x = spacedValues(numel(shape), 31);
    const forward = maxPool2dReference(x, shape, window);
    const w = Float64Array.from(uniformArray(forward.y.length, 31, 2, -1, 1));
    const numeric = numericGradient((v) => project(maxPool2dReference(v, shape, window).y, w), x);
    // Piecewise linear and no window changes its winner within +-1e-6: exact up to float64 rounding / 2h.
    const r = compare(maxPool2dBackwardReference(w, forward.argmax, shape, forward.outShape), numeric, { atol: 1e-8, rtol: 0 });
    assert.ok(r.pass, `max abs ${r.maxAbs}`);
  });
}

test('reference global average pool backward equals float64 finite differences', () => {
  const shape = [2, 3, 5, 4];
  const x = Float64Array.from(uniformArray(numel(shape), 32, 1, -1, 1));
  const w = Float64Array.from(uniformArray(shape[0] * shape[3], 32, 2, -1, 1));
  const numeric = numericGradient((v) => project(globalAvgPoolReference(v, shape), w), x);
  // Linear: central differences are exact up to float64 rounding / 2h.
  const r = compare(globalAvgPoolBackwardReference(w, shape), numeric, { atol: 1e-8, rtol: 0 });
  assert.ok(r.pass, `max abs ${r.maxAbs}`);
});

test('GPU max-pool backward matches f32 finite differences of the GPU forward', async () => {
  const shape = [1, 7, 7, 3];
  const x = Float32Array.from(spacedValues(numel(shape), 33));
  const tx = Tensor.upload(rt, x, shape);
  const forward = maxPool2d(tx);
  const w = uniformArray(forward.y.size, 33, 2, -1, 1);
  const tw = Tensor.upload(rt, w, forward.y.shape);
  const dx = await maxPool2dBackward(tw, forward.argmax, shape).download();
  const loss = async (xv: Float32Array) => {
    const t = Tensor.upload(rt, xv, shape);
    const out = maxPool2d(t);
    const y = await out.y.download();
    for (const u of [t, out.y, out.argmax]) u.dispose();
    return project(y, w);
  };
  // Winners 0.01 apart never change under a 1e-3 step, and the forward copies inputs exactly, so the quotient
  // is exact but for the float64 projection's rounding (~1e-16 * sum|w y| / 2e-3).
  const indices = spreadIndices(x.length, 24);
  const numeric = await gpuNumericGradient(loss, x, indices);
  let chosen = 0;
  for (const [k, i] of indices.entries()) {
    assert.ok(Math.abs(numeric[k] - dx[i]) <= 1e-9, `dx[${i}]: backward ${dx[i]}, finite differences ${numeric[k]}`);
    if (dx[i] !== 0) chosen++;
  }
  assert.ok(chosen >= 3, `only ${chosen} of the checked coordinates win a window; the check would be vacuous`);
  for (const t of [tx, forward.y, forward.argmax, tw]) t.dispose();
});

test('GPU global average pool backward matches f32 finite differences of the GPU forward', async () => {
  const shape = [2, 5, 3, 4];
  const x = uniformArray(numel(shape), 34, 1, -1, 1);
  const w = uniformArray(shape[0] * shape[3], 34, 2, -1, 1);
  const tw = Tensor.upload(rt, w, [shape[0], shape[3]]);
  const dx = await globalAvgPoolBackward(tw, shape).download();
  tw.dispose();
  const loss = async (xv: Float32Array) => {
    const t = Tensor.upload(rt, xv, shape);
    const y = globalAvgPool(t);
    const values = await y.download();
    t.dispose(); y.dispose();
    return project(values, w);
  };
  // Each output is within gamma_L mean|x| + gamma_2 |y| <= (L + 2) u (1 + ...) of its mean (|x| <= 1; L the
  // kernel's addition chain), so the loss within sum|w| (L + 2) u; the quotient divides two such errors by
  // the step (2e-3, to within f32 rounding). The loss is linear: no truncation error.
  const L = globalAvgPoolPlan(shape).chainLength;
  const sumAbsW = w.reduce((s, v) => s + Math.abs(v), 0);
  const allowed = (2 * sumAbsW * (L + 2) * 2 ** -24 * 1.01) / (2e-3 * (1 - 1e-3));
  const indices = spreadIndices(x.length, 8);
  const numeric = await gpuNumericGradient(loss, x, indices);
  for (const [k, i] of indices.entries()) {
    assert.ok(Math.abs(numeric[k] - dx[i]) <= allowed, `dx[${i}]: backward ${dx[i]}, finite differences ${numeric[k]}`);
  }
});

test('pooling forward and backward leak no buffers', async () => {
  await rt.sync();
  const before = rt.pool.report().liveBytes;
  const shape = [2, 9, 9, 5];
  const x = Tensor.upload(rt, uniformArray(numel(shape), 35, 1), shape);
  for (let step = 0; step < 3; step++) {
    const { y, argmax } = maxPool2d(x);
    const dx = maxPool2dBackward(y, argmax, shape);
    const pooled = globalAvgPool(x);
    const back = globalAvgPoolBackward(pooled, shape);
    for (const t of [y, argmax, dx, pooled, back]) t.dispose();
  }
  x.dispose();
  await rt.sync();
  assert.is(rt.pool.report().liveBytes, before);
});

test.run();
