// ReLU backward and fused add + ReLU: the GPU against the float64 references (validation cases), the reference
// backward against float64 finite differences, the GPU backward against f32 finite differences of the GPU
// forward, in-place variants, and an infinite gradient under a closed unit.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { getRuntime } from '../src/gpu/runtime.ts';
import { Tensor } from '../src/tensor.ts';
import { uniformArray } from '../src/rng.ts';
import { unary } from '../src/ops/elementwise.ts';
import { addRelu, reluBackward } from '../src/ops/relu.ts';
import { addReluReference, reluBackwardReference } from '../src/reference/relu.ts';
import { gpuNumericGradient, numericGradient, project, spreadIndices } from '../src/reference/gradcheck.ts';
import { compare } from '../src/reference/compare.ts';

const rt = await getRuntime();

// Each kernel's validation cases run in kernels.test.ts with every other kernel's.
/** Values at least 0.1 away from the kink, so that no finite-difference step crosses it. */
function awayFromZero(n: number, seed: number): Float32Array {
  return uniformArray(n, seed, 1, -1, 1).map((v) => (v < 0 ? v - 0.1 : v + 0.1));
}

test('reference backward (through relu and through add + relu) equals float64 finite differences', () => {
  const n = 40;
  const x = Float64Array.from(awayFromZero(n, 41));
  const b = Float64Array.from(uniformArray(n, 41, 2, -0.05, 0.05));
  const w = Float64Array.from(uniformArray(n, 41, 3, -1, 1));
  const relu = (v: ArrayLike<number>) => Float64Array.from(v as ArrayLike<number>, (t) => Math.max(t, 0));
  // Piecewise linear and no step crosses zero: exact up to float64 rounding / 2h.
  const tol = { atol: 1e-8, rtol: 0 };
  assert.ok(compare(reluBackwardReference(w, relu(x)), numericGradient((v) => project(relu(v), w), x), tol).pass, 'relu');
  // add + relu: both operands receive reluBackward(dy, y); |b| < 0.05 keeps a + b away from zero too.
  const y = addReluReference(x, b);
  assert.ok(compare(reluBackwardReference(w, y), numericGradient((v) => project(addReluReference(v, b), w), x), tol).pass, 'add + relu, a');
  assert.ok(compare(reluBackwardReference(w, y), numericGradient((v) => project(addReluReference(x, v), w), b), tol).pass, 'add + relu, b');
});

test('GPU relu backward matches f32 finite differences of the GPU relu forward', async () => {
  const n = 300;
  const x = awayFromZero(n, 42);
  const w = uniformArray(n, 42, 2, -1, 1);
  const tx = Tensor.upload(rt, x), tw = Tensor.upload(rt, w);
  const y = unary('relu', tx);
  const dx = await reluBackward(tw, y).download();
  const loss = async (v: Float32Array) => {
    const t = Tensor.upload(rt, v);
    const out = unary('relu', t);
    const values = await out.download();
    t.dispose(); out.dispose();
    return project(values, w);
  };
  // relu copies or zeroes exactly and no step crosses the kink: exact but for float64 rounding / 2h.
  const indices = spreadIndices(n, 16);
  const numeric = await gpuNumericGradient(loss, x, indices);
  for (const [k, i] of indices.entries()) assert.ok(Math.abs(numeric[k] - dx[i]) <= 1e-9, `dx[${i}]: ${dx[i]} vs ${numeric[k]}`);
  for (const t of [tx, tw, y]) t.dispose();
});

test('GPU add + relu gradient (reluBackward of its output) matches f32 finite differences', async () => {
  const n = 200;
  const a = awayFromZero(n, 43);
  const b = uniformArray(n, 43, 2, -0.05, 0.05);
  const w = uniformArray(n, 43, 3, -1, 1);
  const ta = Tensor.upload(rt, a), tb = Tensor.upload(rt, b), tw = Tensor.upload(rt, w);
  const y = addRelu(ta, tb);
  const da = await reluBackward(tw, y).download();
  const loss = async (v: Float32Array) => {
    const t = Tensor.upload(rt, v);
    const out = addRelu(t, tb);
    const values = await out.download();
    t.dispose(); out.dispose();
    return project(values, w);
  };
  // Each output rounds once (u |y| <= 1.15 u): the loss is off by at most sum|w| 1.15 u, twice over the step.
  const sumAbsW = w.reduce((s, v) => s + Math.abs(v), 0);
  const allowed = (2 * sumAbsW * 1.15 * 2 ** -24) / (2e-3 * (1 - 1e-3));
  const indices = spreadIndices(n, 12);
  const numeric = await gpuNumericGradient(loss, a, indices);
  for (const [k, i] of indices.entries()) assert.ok(Math.abs(numeric[k] - da[i]) <= allowed, `da[${i}]: ${da[i]} vs ${numeric[k]}`);
  for (const t of [ta, tb, tw, y]) t.dispose();
});

test('in-place variants write into their first operand and return it', async () => {
  const dy = Tensor.upload(rt, [1, 2, 3, 4]), y = Tensor.upload(rt, [0, 5, 0, 1]);
  assert.is(reluBackward(dy, y, { inPlace: true }), dy);
  assert.equal([...await dy.download()], [0, 2, 0, 4]);
  const a = Tensor.upload(rt, [1, -2, 3, -4]), b = Tensor.upload(rt, [-2, 1, 0.5, 5]);
  assert.is(addRelu(a, b, { inPlace: true }), a);
  assert.equal([...await a.download()], [0, 0, 3.5, 1]);
  for (const t of [dy, y, a, b]) t.dispose();
});

test('a closed unit passes no gradient, even an infinite one (a mask product would give NaN)', async () => {
  const dy = Tensor.upload(rt, [Infinity, -Infinity, 2]), y = Tensor.upload(rt, [0, 0, 1]);
  const dx = reluBackward(dy, y);
  assert.equal([...await dx.download()], [0, 0, 2]);
  const short = Tensor.empty(rt, [2]);
  assert.throws(() => reluBackward(dy, short), /relu backward: shapes \[3\] and \[2\] differ/);
  for (const t of [dy, y, dx, short]) t.dispose();
});

test.run();
