// Optimizer steps and the gradient norm: the validation cases (several steps of each optimizer, each step
// against the float64 reference), the reference against hand-computed PyTorch steps, clipping and non-finite
// gradients handled on the GPU, the decay range, argument checks, leaks.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { getRuntime } from '../src/gpu/runtime.ts';
import { Tensor } from '../src/tensor.ts';
import { uniformArray } from '../src/rng.ts';
import { adamwStep, gradNorm, sgdStep, type StepOptions } from '../src/ops/optimizer.ts';
import { adamwReferenceStep, sgdReferenceStep, type AdamWReferenceState, type SgdReferenceState } from '../src/reference/optimizer.ts';

// Each kernel's validation cases run in kernels.test.ts with every other kernel's.
const close = (got: number, want: number, what: string) => assert.ok(Math.abs(got - want) <= 1e-12 * Math.max(1, Math.abs(want)), `${what}: ${got} != ${want}`);

test('the SGD reference takes the steps PyTorch takes (momentum, Nesterov, L2 and decoupled decay)', () => {
  // w0 = 1, g = 0.5 then -1, lr 0.5, momentum 0.9, weight decay 0.1, worked out by hand.
  const run = (nesterov: boolean, decoupledWeightDecay: boolean) => {
    let state: SgdReferenceState = { weights: Float64Array.of(1), momentumBuf: Float64Array.of(0) };
    const trace: number[] = [];
    for (const g of [0.5, -1]) {
      state = sgdReferenceStep(state, [g], { lr: 0.5, momentum: 0.9, nesterov, weightDecay: 0.1, decoupledWeightDecay });
      trace.push(state.weights[0], state.momentumBuf![0]);
    }
    return trace;
  };
  // Classic: d = 0.5 + 0.1 = 0.6 = buf, w = 0.7; d = -1 + 0.07 = -0.93, buf = 0.54 - 0.93 = -0.39, w = 0.895.
  run(false, false).forEach((v, i) => close(v, [0.7, 0.6, 0.895, -0.39][i], `classic ${i}`));
  // Nesterov: buf = 0.6, w = 1 - 0.5 (0.6 + 0.54) = 0.43; d = -1 + 0.043 = -0.957, buf = -0.417,
  // w = 0.43 - 0.5 (-0.957 - 0.3753) = 1.09615.
  run(true, false).forEach((v, i) => close(v, [0.43, 0.6, 1.09615, -0.417][i], `nesterov ${i}`));
  // Decoupled: w = 0.95 - 0.5 * 0.5 = 0.7 with buf 0.5; buf = 0.45 - 1 = -0.55, w = 0.7 * 0.95 + 0.275 = 0.94.
  run(false, true).forEach((v, i) => close(v, [0.7, 0.5, 0.94, -0.55][i], `decoupled ${i}`));
});

test('the AdamW reference takes the steps PyTorch takes', () => {
  // lr 0.1, wd 0.01, default betas; w0 = 2, g = -3 then 1.
  let state: AdamWReferenceState = { weights: Float64Array.of(2), expAvg: Float64Array.of(0), expAvgSq: Float64Array.of(0) };
  state = adamwReferenceStep(state, [-3], 1, { lr: 0.1, weightDecay: 0.01 });
  // Step 1: m_hat = g, v_hat = g^2, so the update is lr * g / (|g| + eps).
  const w1 = 2 * (1 - 0.001) + 0.1 * 3 / (3 + 1e-8);
  close(state.weights[0], w1, 'w1');
  close(state.expAvg[0], -0.3, 'm1');
  close(state.expAvgSq[0], 0.009, 'v1');
  state = adamwReferenceStep(state, [1], 2, { lr: 0.1, weightDecay: 0.01 });
  // Step 2: m = 0.9 * -0.3 + 0.1 = -0.17, v = 0.999 * 0.009 + 0.001 = 0.009991, bias corrections 0.19 and 0.001999.
  close(state.expAvg[0], -0.17, 'm2');
  close(state.expAvgSq[0], 0.009991, 'v2');
  close(state.weights[0], w1 * 0.999 - 0.1 * (-0.17 / 0.19) / (Math.sqrt(0.009991 / 0.001999) + 1e-8), 'w2');
  // Adam's L2 decay instead: g = -3 + 0.01 * 2 = -2.98, so step 1 is -lr * sign(g) with no shrinking of w.
  const adam = adamwReferenceStep({ weights: Float64Array.of(2), expAvg: Float64Array.of(0), expAvgSq: Float64Array.of(0) }, [-3], 1, { lr: 0.1, weightDecay: 0.01, decoupledWeightDecay: false });
  close(adam.weights[0], 2 + 0.1 * 2.98 / (2.98 + 1e-8), 'adam w1');
});

async function stepBoth(rt: Awaited<ReturnType<typeof getRuntime>>, n: number, grads: Float32Array, options: (norm: Tensor) => StepOptions) {
  const weights = uniformArray(n, 3, 1, -1, 1);
  const tg = Tensor.upload(rt, grads);
  const norm = gradNorm(tg);
  const sgd = { w: Tensor.upload(rt, weights), buf: Tensor.upload(rt, uniformArray(n, 3, 2, -1, 1)) };
  const adam = { w: Tensor.upload(rt, weights), m: Tensor.upload(rt, uniformArray(n, 3, 3, -1, 1)), v: Tensor.upload(rt, uniformArray(n, 3, 4, 0, 1)) };
  const before = [await sgd.w.download(), await sgd.buf.download(), await adam.w.download(), await adam.m.download(), await adam.v.download()];
  sgdStep(sgd.w, tg, sgd.buf, { lr: 0.1, momentum: 0.9, weightDecay: 1e-4 }, options(norm.norm));
  adamwStep(adam.w, tg, { expAvg: adam.m, expAvgSq: adam.v }, 3, { lr: 1e-3 }, options(norm.norm));
  const after = [await sgd.w.download(), await sgd.buf.download(), await adam.w.download(), await adam.m.download(), await adam.v.download()];
  const result = { before, after, norm: (await norm.norm.download())[0], nonFinite: (await norm.nonFinite.download())[0] };
  for (const t of [tg, norm.norm, norm.nonFinite, sgd.w, sgd.buf, adam.w, adam.m, adam.v]) t.dispose();
  return result;
}

test('non-finite gradients are counted, make the norm NaN and skip the clipped step entirely', async () => {
  const rt = await getRuntime();
  const n = 1000;
  const grads = uniformArray(n, 3, 5, -1, 1);
  grads[17] = NaN; grads[400] = Infinity; grads[999] = -Infinity;
  const r = await stepBoth(rt, n, grads, (norm) => ({ clip: { norm, maxNorm: 1 } }));
  assert.is(r.nonFinite, 3);
  assert.ok(Number.isNaN(r.norm));
  r.after.forEach((a, k) => assert.equal([...a], [...r.before[k]], `buffer ${k} changed in a skipped step`));
});

test('an inactive clip (norm below maxNorm) steps bit-for-bit like no clip', async () => {
  const rt = await getRuntime();
  const n = 257;
  const grads = uniformArray(n, 3, 6, -1, 1);
  const clipped = await stepBoth(rt, n, grads, (norm) => ({ clip: { norm, maxNorm: 1e6 } }));
  const plain = await stepBoth(rt, n, grads, () => ({}));
  assert.is(clipped.nonFinite, 0);
  clipped.after.forEach((a, k) => assert.equal([...a], [...plain.after[k]], `buffer ${k}`));
});

test('weight decay reaches only the decay range', async () => {
  const rt = await getRuntime();
  const n = 100, range: [number, number] = [10, 60];
  const weights = uniformArray(n, 3, 7, -1, 1);
  const zeros = new Float32Array(n);
  for (const decoupledWeightDecay of [false, true]) {
    // Zero gradients: the only change is the decay, so elements outside the range must stay bit-for-bit.
    const w = Tensor.upload(rt, weights), g = Tensor.upload(rt, zeros), buf = Tensor.upload(rt, zeros);
    sgdStep(w, g, buf, { lr: 0.5, momentum: 0.9, weightDecay: 0.2, decoupledWeightDecay }, { decayRange: range });
    const got = await w.download();
    for (let i = 0; i < n; i++) {
      const inside = i >= range[0] && i < range[1];
      if (!inside) assert.is(got[i], weights[i], `element ${i} outside the range changed`);
      else assert.ok(Math.abs(got[i] - weights[i] * 0.9) <= 1e-6, `element ${i}: ${got[i]} vs ${weights[i] * 0.9}`);
    }
    w.dispose(); g.dispose(); buf.dispose();
  }
  const w = Tensor.upload(rt, weights), g = Tensor.upload(rt, zeros), m = Tensor.upload(rt, zeros), v = Tensor.upload(rt, zeros);
  adamwStep(w, g, { expAvg: m, expAvgSq: v }, 1, { lr: 0.5, weightDecay: 0.2 }, { decayRange: range });
  const got = await w.download();
  for (let i = 0; i < n; i++) {
    if (i < range[0] || i >= range[1]) assert.is(got[i], weights[i], `AdamW element ${i} outside the range changed`);
    else assert.ok(Math.abs(got[i] - weights[i] * 0.9) <= 1e-6, `AdamW element ${i}`);
  }
  for (const t of [w, g, m, v]) t.dispose();
});

test('a step over more elements than one grid dimension holds (2-D grid) updates the tail', async () => {
  const rt = await getRuntime();
  const n = 65535 * 256 + 7;
  const w = Tensor.upload(rt, new Float32Array(n).fill(1)), g = Tensor.upload(rt, new Float32Array(n).fill(0.5));
  sgdStep(w, g, null, { lr: 1 });
  const tail = new Float32Array(await rt.read(w.buffer, 4 * 300, 4 * (n - 300)));
  assert.ok(tail.every((x) => x === 0.5), 'the last elements were not updated');
  const { norm } = gradNorm(g);
  // sqrt(n / 4), within the norm's rounding bound (about 30 units of 2^-24 relative at this size).
  assert.ok(Math.abs((await norm.download())[0] / Math.sqrt(n / 4) - 1) < 2e-6);
  w.dispose(); g.dispose(); norm.dispose();
});

test('bad arguments are refused; a clipped AdamW step leaks nothing', async () => {
  const rt = await getRuntime();
  await rt.sync();
  const start = rt.pool.report().liveBytes;
  const w = Tensor.upload(rt, uniformArray(10, 3, 8, -1, 1)), g = Tensor.upload(rt, uniformArray(10, 3, 9, -1, 1));
  const short = Tensor.empty(rt, [9]), m = Tensor.upload(rt, new Float32Array(10)), v = Tensor.upload(rt, new Float32Array(10));
  assert.throws(() => sgdStep(w, short, null, { lr: 1 }), /grads holds 9 f32 elements but the weights hold 10/);
  assert.throws(() => sgdStep(w, g, null, { lr: 1, momentum: 0.9 }), /momentum needs a momentum buffer/);
  assert.throws(() => sgdStep(w, g, null, { lr: 1, nesterov: true }), /Nesterov needs a momentum/);
  assert.throws(() => sgdStep(w, g, null, { lr: 1 }, { decayRange: [5, 11] }), /decayRange \[5, 11\) is not a range inside \[0, 10\)/);
  assert.throws(() => adamwStep(w, g, { expAvg: m, expAvgSq: v }, 0, { lr: 1 }), /step must be an integer >= 1/);
  assert.throws(() => adamwStep(w, g, { expAvg: m, expAvgSq: v }, 1, { lr: 1 }, { clip: { norm: g, maxNorm: 1 } }), /clip.norm must be a \[1\] f32 tensor/);
  for (let step = 1; step <= 3; step++) {
    const { norm, nonFinite } = gradNorm(g);
    adamwStep(w, g, { expAvg: m, expAvgSq: v }, step, { lr: 1e-3 }, { clip: { norm, maxNorm: 0.5 } });
    norm.dispose(); nonFinite.dispose();
  }
  for (const t of [w, g, short, m, v]) t.dispose();
  await rt.sync();
  assert.is(rt.pool.report().liveBytes, start);
});

test.run();
