// conv2d: the GPU against the direct-loop reference (every GEMM design), the reference's backward against
// finite differences of its forward, and GPU finite differences against the GPU backward.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { getRuntime } from '../src/gpu/runtime.ts';
import { Tensor } from '../src/tensor.ts';
import { uniformArray } from '../src/rng.ts';
import { availableMatmulVariants } from '../src/ops/matmul.ts';
import { conv2d, conv2dBackwardBias, conv2dBackwardInput, conv2dBackwardWeight, convGeometry, liveTaps, ohwiToOihw, oihwToOhwi } from '../src/ops/conv.ts';
import { convBackwardBiasReference, convBackwardInputReference, convBackwardWeightReference, convForwardReference } from '../src/reference/conv.ts';
import { numericGradient, project, gpuNumericGradient, spreadIndices } from '../src/reference/gradcheck.ts';
import { compare } from '../src/reference/compare.ts';

const rt = await getRuntime();

// Each kernel's validation cases run in kernels.test.ts with every other kernel's.
const GEOMETRIES = [
  { N: 2, H: 5, W: 4, C: 3, Cout: 2, k: 3, stride: 2, pad: 1 },
  { N: 1, H: 7, W: 7, C: 2, Cout: 3, k: 7, stride: 2, pad: 3 },
  { N: 2, H: 3, W: 5, C: 4, Cout: 3, k: 1, stride: 1, pad: 0 },
];

for (const c of GEOMETRIES) {
  test(`reference backward equals float64 finite differences (k${c.k} s${c.stride} p${c.pad})`, () => {
    const g = convGeometry([c.N, c.H, c.W, c.C], [c.Cout, c.k, c.k, c.C], { stride: c.stride, padding: c.pad });
    const x = Float64Array.from(uniformArray(c.N * c.H * c.W * c.C, 3, 1, -1, 1));
    const w = Float64Array.from(uniformArray(c.Cout * c.k * c.k * c.C, 3, 2, -1, 1));
    const b = Float64Array.from(uniformArray(c.Cout, 3, 3, -1, 1));
    const proj = Float64Array.from(uniformArray(g.M * g.Cout, 3, 4, -1, 1));
    // L = sum proj * conv(x, w, b): its gradients are the backward passes applied to dy = proj.
    const dx = numericGradient((v) => project(convForwardReference(v, w, b, g), proj), x);
    const dw = numericGradient((v) => project(convForwardReference(x, v, b, g), proj), w);
    const db = numericGradient((v) => project(convForwardReference(x, w, v, g), proj), b);
    // Central differences of a function linear in each argument are exact up to float64 rounding.
    const tol = { atol: 1e-8, rtol: 1e-8 };
    assert.ok(compare(convBackwardInputReference(proj, w, g), dx, tol).pass, 'dx');
    assert.ok(compare(convBackwardWeightReference(proj, x, g), dw, tol).pass, 'dw');
    assert.ok(compare(convBackwardBiasReference(proj, g), db, tol).pass, 'db');
  });
}

test('GPU backward matches f32 finite differences of the GPU forward at spot coordinates', async () => {
  const c = { N: 2, H: 6, W: 5, C: 3, Cout: 4, k: 3, stride: 2, pad: 1 };
  const xShape = [c.N, c.H, c.W, c.C], wShape = [c.Cout, c.k, c.k, c.C];
  const g = convGeometry(xShape, wShape, { stride: c.stride, padding: c.pad });
  const x = uniformArray(c.N * c.H * c.W * c.C, 5, 1, -1, 1);
  const w = uniformArray(c.Cout * c.k * c.k * c.C, 5, 2, -1, 1);
  const proj = uniformArray(g.M * g.Cout, 5, 3, -1, 1);
  const opts = { stride: c.stride, padding: c.pad };
  const loss = async (xv: Float32Array, wv: Float32Array) => {
    const tx = Tensor.upload(rt, xv, xShape), tw = Tensor.upload(rt, wv, wShape);
    const y = conv2d(tx, tw, null, opts);
    const value = project(await y.download(), proj);
    tx.dispose(); tw.dispose(); y.dispose();
    return value;
  };
  const tdy = Tensor.upload(rt, proj, [g.N, g.Ho, g.Wo, g.Cout]);
  const tx = Tensor.upload(rt, x, xShape), tw = Tensor.upload(rt, w, wShape);
  const gx = conv2dBackwardInput(tdy, tw, xShape, opts), gw = conv2dBackwardWeight(tdy, tx, wShape, opts);
  const dx = await gx.download(), dw = await gw.download();
  gx.dispose(); gw.dispose();
  const xi = spreadIndices(x.length, 12), wi = spreadIndices(w.length, 12);
  const fdx = await gpuNumericGradient((v) => loss(v, w), x, xi);
  const fdw = await gpuNumericGradient((v) => loss(x, v), w, wi);
  // The loss sums ~M*Cout = 48 terms of size <= 1 in f32 (error ~1e-6 each side); divided by the 2e-3 step that
  // is ~1e-3 of noise. The function is linear, so there is no truncation error.
  const tol = { atol: 5e-3, rtol: 1e-3 };
  assert.ok(compare(xi.map((i) => dx[i]), fdx, tol).pass, `dx ${xi.map((i) => dx[i])} vs ${[...fdx]}`);
  assert.ok(compare(wi.map((i) => dw[i]), fdw, tol).pass, `dw ${wi.map((i) => dw[i])} vs ${[...fdw]}`);
  tdy.dispose(); tx.dispose(); tw.dispose();
});

test('outputs and input-gradient patches larger than one binding run in slabs of whole images', async () => {
  // A binding limit of 3 images' worth of output forces forward slabs of 3, 3 and 1 images (offsets that are not
  // 256-byte aligned included) and input-gradient slabs of one image (dP is 9x larger), on every design; with 3
  // channels and with 8 (col2im then moves vec4s and counts each slab's first dx element in them).
  for (const C of [3, 8]) await slabsMatch({ N: 7, H: 5, W: 6, C, Cout: 5, k: 3, stride: 1, pad: 1 });
});

test('a padded input copied into a pooled texture gets zero borders, whatever the texture held', async () => {
  // W * C a multiple of 64: the subgroup design copies x into the texture's interior and zeroes its border. A texture
  // of the padded size filled with 7s goes back to the pool first, for conv2d to take: a border left unzeroed
  // shows in the edge outputs. Small integers, so the products are exact and must match to the bit.
  for (const c of [{ N: 2, H: 5, W: 4, C: 16, Cout: 8, k: 3, pad: 1 }, { N: 3, H: 4, W: 8, C: 8, Cout: 4, k: 5, pad: 2 }]) {
    const xShape = [c.N, c.H, c.W, c.C], wShape = [c.Cout, c.k, c.k, c.C];
    const g = convGeometry(xShape, wShape, { stride: 1, padding: c.pad });
    const width = (c.W + 2 * c.pad) * c.C / 4, height = c.N * (c.H + 2 * c.pad);
    const stale = rt.textures.acquire(width, height);
    const bytesPerRow = Math.ceil((width * 16) / 256) * 256;
    const sevens = Tensor.upload(rt, new Float32Array((bytesPerRow / 4) * height).fill(7), [(bytesPerRow / 4) * height]);
    rt.copyToTexture({ buffer: sevens.buffer, offset: sevens.byteOffset, bytesPerRow }, stale, [0, 0], [width, height]);
    rt.textures.release(stale);
    rt.flush();
    const ints = (n: number, stream: number) => uniformArray(n, 9, stream, -1, 1).map((v) => Math.round(v * 3));
    const x = ints(c.N * c.H * c.W * c.C, 1), w = ints(c.Cout * g.K, 2);
    const tx = Tensor.upload(rt, x, xShape), tw = Tensor.upload(rt, w, wShape);
    const y = conv2d(tx, tw, null, { padding: c.pad, variant: 'subgroup' });
    assert.ok(compare(await y.download(), convForwardReference(x, w, null, g), { atol: 0, rtol: 0 }).pass, `k${c.k} p${c.pad}`);
    for (const t of [sevens, tx, tw, y]) t.dispose();
  }
});

async function slabsMatch(c: { N: number; H: number; W: number; C: number; Cout: number; k: number; stride: number; pad: number }) {
  const xShape = [c.N, c.H, c.W, c.C], wShape = [c.Cout, c.k, c.k, c.C];
  const g = convGeometry(xShape, wShape, { stride: c.stride, padding: c.pad });
  const x = uniformArray(c.N * c.H * c.W * c.C, 8, 1, -1, 1), w = uniformArray(c.Cout * g.K, 8, 2, -1, 1);
  const dy = uniformArray(g.M * g.Cout, 8, 3, -1, 1);
  rt.hooks.maxStorageBinding = 3 * g.Ho * g.Wo * g.Cout * 4;
  try {
    for (const variant of availableMatmulVariants(rt)) {
      const opts = { stride: c.stride, padding: c.pad, variant };
      const tx = Tensor.upload(rt, x, xShape), tw = Tensor.upload(rt, w, wShape), tdy = Tensor.upload(rt, dy, [g.N, g.Ho, g.Wo, g.Cout]);
      const y = conv2d(tx, tw, null, opts), dx = conv2dBackwardInput(tdy, tw, xShape, opts);
      const tol = { atol: 1e-5, rtol: 1e-5 };
      assert.ok(compare(await y.download(), convForwardReference(x, w, null, g), tol).pass, `${variant} forward, C=${c.C}`);
      assert.ok(compare(await dx.download(), convBackwardInputReference(dy, w, g), tol).pass, `${variant} dx, C=${c.C}`);
      for (const t of [tx, tw, tdy, y, dx]) t.dispose();
    }
  } finally {
    delete rt.hooks.maxStorageBinding;
  }
}

test('taps that only meet padding are cropped to the box the outputs use, only where one padding serves it', () => {
  const live = (H: number, W: number, k: number, stride: number, pad: number) => liveTaps(convGeometry([1, H, W, 4], [4, k, k, 4], { stride, padding: pad }));
  assert.equal(live(1, 1, 3, 1, 1), { kh0: 1, kw0: 1, KH: 1, KW: 1, pad: 0 }, '3x3 on 1x1: the centre');
  assert.equal(live(2, 2, 3, 2, 1), { kh0: 1, kw0: 1, KH: 2, KW: 2, pad: 0 }, '3x3/2 on 2x2: one output, lower-right box');
  assert.equal(live(1, 1, 7, 2, 3), { kh0: 3, kw0: 3, KH: 1, KW: 1, pad: 0 }, 'the 7x7/2 stem on one pixel');
  assert.is(live(2, 2, 3, 1, 1), null, 'every tap meets some output');
  assert.is(live(32, 32, 3, 1, 1), null);
  assert.is(live(1, 5, 3, 1, 1), null, 'a box of 1 x 3 taps would need padding 0 on one axis and 1 on the other');
  assert.is(live(3, 3, 1, 1, 0), null, '1x1 kernels have nothing to crop');
});

test('OIHW <-> OHWI conversion round-trips and moves elements where PyTorch expects them', () => {
  const shape = [4, 3, 2, 5]; // O, I, KH, KW
  const oihw = Float32Array.from({ length: 120 }, (_, i) => i);
  const ohwi = oihwToOhwi(oihw, shape);
  assert.equal([...ohwiToOihw(ohwi, shape)], [...oihw]);
  // Element (o=2, i=1, h=1, w=3) of PyTorch's weight sits at ((o*KH + h)*KW + w)*I + i in ours.
  assert.is(ohwi[((2 * 2 + 1) * 5 + 3) * 3 + 1], oihw[((2 * 3 + 1) * 2 + 1) * 5 + 3]);
});

test('shape errors name both shapes', () => {
  const x = Tensor.empty(rt, [1, 4, 4, 3]);
  assert.throws(() => conv2d(x, Tensor.empty(rt, [8, 3, 3, 5])), /input has 3 channels but the weight \[8,3,3,5\] expects 5/);
  assert.throws(() => conv2d(x, Tensor.empty(rt, [8, 7, 7, 3])), /a 7x7 kernel with padding 0 does not fit a 4x4 input/);
  assert.throws(() => conv2dBackwardBias(Tensor.empty(rt, [2, 2])), /dy must be NHWC \[N, Ho, Wo, Cout\], got \[2,2\]/);
  x.dispose();
});

test.run();
