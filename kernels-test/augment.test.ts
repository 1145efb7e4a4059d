// Augmentation: the GPU pipeline against its float64 reference, the reference against hand-worked and
// PyTorch-known values, the draws' ranges and independence, and seeded reproducibility.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { getRuntime } from '../src/gpu/runtime.ts';
import { Tensor } from '../src/tensor.ts';
import { augmentBatch, augmentWithParams, drawAugmentParams, uploadImages, type AugmentOptions, type ImageShape, type SampleAugment } from '../src/ops/augment.ts';
import { augmentReference, contrastReference, cropReference, resizeReference, rotateReference, type Plane } from '../src/reference/augment.ts';
import { AUGMENT_CASES } from '../src/validate/augment.ts';

const gray = (h: number, w: number, values: number[]): Plane => ({ h, w, c: 1, data: Float64Array.from(values) });
const close = (got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string) => {
  assert.is(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i] - want[i]) <= tol, `${what}[${i}]: ${got[i]} vs ${want[i]}`);
};
const neutral: SampleAugment = { top: 0, left: 0, flip: false, angleDegrees: 0, brightness: 1, contrast: 1 };

// The augment kernel's validation cases run in kernels.test.ts with every other kernel's.

test('reference resize equals PyTorch bilinear align_corners=False (2x2 -> 4x4, 4x4 -> 2x2)', () => {
  // F.interpolate(torch.tensor([[[[0., 1.], [2., 3.]]]]), size=(4, 4), mode='bilinear', align_corners=False)
  close(resizeReference(gray(2, 2, [0, 1, 2, 3]), 4, 4).data, [
    0, 0.25, 0.75, 1, 0.5, 0.75, 1.25, 1.5, 1.5, 1.75, 2.25, 2.5, 2, 2.25, 2.75, 3,
  ], 1e-12, 'upsample');
  // Halving samples between pixel pairs: each output is the mean of a 2x2 block.
  const ramp = Array.from({ length: 16 }, (_, i) => i);
  close(resizeReference(gray(4, 4, ramp), 2, 2).data, [2.5, 4.5, 10.5, 12.5], 1e-12, 'downsample');
});

test('reference rotation: +90 deg is numpy rot90 (counter-clockwise), 180 deg mirrors both axes', () => {
  close(rotateReference(gray(3, 3, [0, 1, 2, 3, 4, 5, 6, 7, 8]), 90).data, [2, 5, 8, 1, 4, 7, 0, 3, 6], 1e-12, 'rot90');
  const src = Array.from({ length: 15 }, (_, i) => i + 1);
  const mirrored = Array.from({ length: 15 }, (_, i) => src[14 - i]);
  close(rotateReference(gray(3, 5, src), 180).data, mirrored, 1e-12, 'rot180');
  // A quarter turn of a non-square image moves corners off the grid: those pixels see the zero fill.
  const turned = rotateReference(gray(2, 4, [1, 1, 1, 1, 1, 1, 1, 1]), 90).data;
  assert.is(turned[0], 0);
});

test('reference crop pads with zeros; contrast blends with the weighted gray mean', () => {
  // Rows -1..0 and columns 1..2 of [[1, 2, 3], [4, 5, 6]].
  close(cropReference(gray(2, 3, [1, 2, 3, 4, 5, 6]), 1, 0, 2, 2, 2).data, [0, 0, 2, 3], 0, 'crop');
  const rgb: Plane = { h: 1, w: 2, c: 3, data: Float64Array.from([1, 0, 0, 0, 0, 1]) };
  const mean = (0.2989 + 0.114) / 2;
  close(contrastReference(rgb, 0.5).data, [0.5 + 0.5 * mean, 0.5 * mean, 0.5 * mean, 0.5 * mean, 0.5 * mean, 0.5 + 0.5 * mean], 1e-15, 'contrast');
  close(contrastReference(rgb, 3).data, [1, 0, 0, 0, 0, 1], 0, 'contrast clamps');
});

test('GPU with hand-picked draws: a +90 deg turn of 5x5 is rot90, crop+flip is an exact gather', async () => {
  const rt = await getRuntime();
  const shape: ImageShape = { n: 1, h: 5, w: 5, c: 1 };
  const bytes = Uint8Array.from({ length: 25 }, (_, i) => 10 * i);
  const images = uploadImages(rt, bytes, shape);
  const identity = { mean: [0], std: [1] };
  const turned = await augmentWithParams(rt, images, shape, { rotateDegrees: 90, ...identity }, [{ ...neutral, angleDegrees: 90 }]).download();
  const rot90 = Array.from({ length: 25 }, (_, k) => bytes[(k % 5) * 5 + 4 - Math.floor(k / 5)] / 255);
  // f32 cos(90 deg) is -4.4e-8, not 0: sample points move by ~2e-7 pixels.
  close(turned, rot90, 1e-6, 'rot90');
  // Pad 1, window rows 1..3 cols -1..3 of the source (top 2, left 0), flipped.
  const cropped = await augmentWithParams(rt, images, shape, { crop: { padding: 1, size: [3, 5] }, flip: 1, ...identity }, [{ ...neutral, top: 2, left: 0, flip: true }]).download();
  const want = Array.from({ length: 15 }, (_, k) => {
    const v = Math.floor(k / 5), col = -1 + (4 - (k % 5));
    return col < 0 ? 0 : bytes[(1 + v) * 5 + col] / 255;
  });
  // Only the 1/255 scaling rounds: one ULP of a value below 1.
  close(cropped, want, 2 ** -23, 'crop+flip');
  images.dispose();
});

const FULL = AUGMENT_CASES.find((c) => c.name.startsWith('full pipeline'))!;

test('same seed and stream give bitwise identical batches; other streams and seeds differ', async () => {
  const rt = await getRuntime();
  const { shape, options } = FULL;
  const bytes = Uint8Array.from({ length: shape.n * shape.h * shape.w * shape.c }, (_, i) => (i * 37 + (i >> 5)) & 255);
  const images = uploadImages(rt, bytes, shape);
  const run = async (seed: number, stream: number) => new Uint32Array((await augmentBatch(rt, images, shape, options, seed, stream).download()).buffer);
  const first = await run(7, 41), again = await run(7, 41), otherStream = await run(7, 42), otherSeed = await run(8, 41);
  images.dispose();
  assert.equal(again, first);
  assert.ok(otherStream.some((v, i) => v !== first[i]), 'stream 42 gave the same batch as stream 41');
  assert.ok(otherSeed.some((v, i) => v !== first[i]), 'seed 8 gave the same batch as seed 7');
});

test('draws: reproducible, per-sample (independent of batch size and of other options), in range', () => {
  const shape: ImageShape = { n: 2000, h: 32, w: 32, c: 3 };
  const options: AugmentOptions = { crop: { padding: 4, size: 32 }, flip: 0.5, rotateDegrees: 12, brightness: 0.4, contrast: 0.25, mean: [0, 0, 0], std: [1, 1, 1] };
  const draws = drawAugmentParams(shape, options, 3, 9);
  assert.equal(drawAugmentParams(shape, options, 3, 9), draws);
  assert.equal(drawAugmentParams({ ...shape, n: 5 }, options, 3, 9), draws.slice(0, 5));
  assert.not.equal(drawAugmentParams({ ...shape, n: 5 }, options, 3, 10), draws.slice(0, 5));
  const cropOnly = drawAugmentParams({ ...shape, n: 5 }, { crop: options.crop, mean: options.mean, std: options.std }, 3, 9);
  assert.equal(cropOnly.map((p) => [p.top, p.left]), draws.slice(0, 5).map((p) => [p.top, p.left]));
  assert.ok(cropOnly.every((p) => !p.flip && p.angleDegrees === 0 && p.brightness === 1 && p.contrast === 1));
  const offsets = new Set(draws.flatMap((p) => [p.top, p.left]));
  assert.equal([...offsets].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8]);
  const flips = draws.filter((p) => p.flip).length;
  // Binomial(2000, 0.5): sd 22.4, so +-5 sd.
  assert.ok(Math.abs(flips - 1000) < 112, `${flips} flips of 2000`);
  assert.ok(draws.every((p) => p.angleDegrees >= -12 && p.angleDegrees < 12 && p.brightness >= 0.6 && p.brightness < 1.4 && p.contrast >= 0.75 && p.contrast < 1.25));
  assert.ok(drawAugmentParams(shape, { ...options, flip: 0 }, 3, 9).every((p) => !p.flip));
  assert.ok(drawAugmentParams(shape, { ...options, flip: 1 }, 3, 9).every((p) => p.flip));
});

test('augment leaves no live buffers behind and rejects bad arguments', async () => {
  const rt = await getRuntime();
  const { shape, options } = FULL;
  await rt.sync();
  const before = rt.pool.report().liveBytes;
  const images = uploadImages(rt, new Uint8Array(shape.n * shape.h * shape.w * shape.c), shape);
  const out = augmentBatch(rt, images, shape, options, 1, 2);
  assert.equal(out.shape, [shape.n, 24, 24, shape.c]);
  out.dispose(); images.dispose();
  await rt.sync();
  assert.is(rt.pool.report().liveBytes, before);
  const small = uploadImages(rt, new Uint8Array(12), { n: 1, h: 2, w: 2, c: 3 });
  const floats = Tensor.empty(rt, [100]);
  const base = { mean: [0, 0, 0], std: [1, 1, 1] };
  assert.throws(() => augmentBatch(rt, small, { n: 1, h: 2, w: 2, c: 2 }, { mean: [0, 0], std: [1, 1] }, 0, 0), /1 or 3 channels/);
  assert.throws(() => augmentBatch(rt, small, { n: 1, h: 2, w: 2, c: 3 }, { mean: [0], std: [1] }, 0, 0), /mean and std/);
  assert.throws(() => augmentBatch(rt, small, { n: 2, h: 2, w: 2, c: 3 }, base, 0, 0), /need 6 words/);
  assert.throws(() => augmentBatch(rt, floats, { n: 1, h: 2, w: 2, c: 3 }, base, 0, 0), /packed bytes/);
  assert.throws(() => augmentBatch(rt, small, { n: 1, h: 2, w: 2, c: 3 }, { crop: { padding: 0, size: 3 }, ...base }, 0, 0), /larger than the padded image/);
  small.dispose(); floats.dispose();
});

test('reference of a neutral pipeline is bytes / 255 normalized', () => {
  const shape: ImageShape = { n: 2, h: 1, w: 2, c: 1 };
  const got = augmentReference(Uint8Array.from([0, 51, 255, 102]), shape, { mean: [0.2], std: [0.5] }, [neutral, neutral]);
  close(got, [-0.4, 0, 1.6, 0.4], 1e-15, 'neutral');
});

test.run();
