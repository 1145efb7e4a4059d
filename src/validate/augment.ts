// Validation cases of the augmentation kernels: the GPU pipeline against the float64 stage-by-stage reference,
// both with the same CPU draws, on random bytes (neighbouring pixels differ by up to 255, the worst case for
// the interpolation error bounds below).
import { define, HALF_ULP as U, inputs, take, type ValidationCase } from './define.ts';
import type { Tolerance } from '../reference/compare.ts';
import { augmentGeometry, augmentWithParams, drawAugmentParams, uploadImages, type AugmentOptions, type ImageShape } from '../ops/augment.ts';
import { augmentReference } from '../reference/augment.ts';

/**
 * |got - ref| <= atol + rtol |ref| for one configuration, from a forward error analysis with unit roundoff
 * u = 2^-24, on the 0..1 scale until the normalization:
 * - geometry: the byte-to-0..1 scaling by the rounded constant 1/255 costs 2u. Each bilinear step costs 6u of
 *   arithmetic (two levels of (1-f)a + fb with a, b in [0, 1]) plus its coordinate error times the
 *   interpolant's Lipschitz constant, which is 1 per axis (neighbouring values differ by at most 1). Resize
 *   coordinates (d + 0.5) * fl(in/out) - 0.5 are within 3u * in per axis. Rotation coordinates
 *   fl(cos) dx - fl(sin) dy + cx are within u (3 (|cos dx| + |sin dy|) + |sx|) <= 3.33u * L per axis with
 *   L = max(outH, outW) (|dx|, |dy| <= L/2), so 7u * L for both. Floor picking another cell does not matter:
 *   the bilinear interpolant is continuous. These coordinate terms dominate: at 224 pixels a correctly rounded
 *   f32 coordinate is already 2^-17 pixels off, far more than a few ULP of the value.
 * - brightness: the factor and the product round (2u), the error scales by b <= 1 + x; clamp is 1-Lipschitz.
 * - contrast: the gray mean adds 5u for the weighted gray value, (k + 7)u for a sum of P pixels where each of
 *   256 invocations adds k = ceil(P / 256) in sequence before an 8-level tree, and 5u for the division by P
 *   (2.5 ULP); the blend c y + (1 - c) m scales errors by c + |1 - c| and adds 6u c.
 * - normalize: (z - mean) / std adds u (1 + 2 |mean|) before the division, which scales by 1/std and adds
 *   2.5 ULP plus the rounding of std: rtol 6u.
 */
export function augmentTolerance(shape: ImageShape, options: AugmentOptions): Tolerance {
  const { cropH, cropW, outH, outW } = augmentGeometry(shape, options);
  let err = 2 * U;
  if (outH !== cropH || outW !== cropW) err += 6 * U + 3 * U * (cropH + cropW);
  if ((options.rotateDegrees ?? 0) > 0) err += 6 * U + 7 * U * Math.max(outH, outW);
  err = (1 + (options.brightness ?? 0)) * (err + 2 * U);
  const x = options.contrast ?? 0;
  if (x > 0) {
    const k = Math.ceil(outH * outW / 256);
    const meanErr = err + (5 + k + 7 + 5) * U;
    err = (1 + x) * err + x * meanErr + 6 * U * (1 + x);
  }
  const worstMean = Math.max(...options.mean.map(Math.abs));
  return { atol: (err + U * (1 + 2 * worstMean)) / Math.min(...options.std), rtol: 6 * U };
}

/** Seeded bytes 0..255 (a uniform draw of 256*(1-2^-24) can round up to 256 in f32, hence the min). */
function randomBytes(count: number): Uint8Array {
  return Uint8Array.from(inputs(count, 0, 256), (v) => Math.min(255, Math.floor(v)));
}

const CIFAR = { mean: [0.4914, 0.4822, 0.4465], std: [0.247, 0.2435, 0.2616] };
const IMAGENET = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
const GRAY = { mean: [0.5], std: [0.25] };

interface AugmentCase { name: string; shape: ImageShape; options: AugmentOptions; stream: number }

export const AUGMENT_CASES: AugmentCase[] = [
  { name: 'N=1 C=1 7x5 pad 2 crop 5x3 flip', shape: { n: 1, h: 7, w: 5, c: 1 }, options: { crop: { padding: 2, size: [5, 3] }, flip: 0.5, ...GRAY }, stream: 0 },
  { name: 'N=3 C=3 7x5 pad 3 crop 7x5 always flip', shape: { n: 3, h: 7, w: 5, c: 3 }, options: { crop: { padding: 3, size: [7, 5] }, flip: 1, ...CIFAR }, stream: 1 },
  { name: 'CIFAR N=4 32x32x3 pad 4 crop 32 flip', shape: { n: 4, h: 32, w: 32, c: 3 }, options: { crop: { padding: 4, size: 32 }, flip: 0.5, ...CIFAR }, stream: 2 },
  { name: 'rotation only N=3 9x13x3 +-30 deg', shape: { n: 3, h: 9, w: 13, c: 3 }, options: { rotateDegrees: 30, ...IMAGENET }, stream: 3 },
  { name: 'rotation only N=2 C=1 16x16 +-180 deg', shape: { n: 2, h: 16, w: 16, c: 1 }, options: { rotateDegrees: 180, ...GRAY }, stream: 4 },
  { name: 'jitter only N=3 11x7x3 brightness 0.4 contrast 0.4', shape: { n: 3, h: 11, w: 7, c: 3 }, options: { brightness: 0.4, contrast: 0.4, ...IMAGENET }, stream: 5 },
  { name: 'jitter only N=2 C=1 5x7 brightness 0.8 contrast 0.9', shape: { n: 2, h: 5, w: 7, c: 1 }, options: { brightness: 0.8, contrast: 0.9, ...GRAY }, stream: 6 },
  { name: 'resize N=2 37x29x3 -> 24x24', shape: { n: 2, h: 37, w: 29, c: 3 }, options: { resize: [24, 24], ...IMAGENET }, stream: 7 },
  { name: 'resize up N=2 C=1 5x7 -> 11x13', shape: { n: 2, h: 5, w: 7, c: 1 }, options: { resize: [11, 13], ...GRAY }, stream: 8 },
  {
    name: 'full pipeline N=3 19x23x3 pad 3 crop 17x21 flip rot 15 jitter -> 24x24', shape: { n: 3, h: 19, w: 23, c: 3 },
    options: { crop: { padding: 3, size: [17, 21] }, flip: 0.5, rotateDegrees: 15, brightness: 0.4, contrast: 0.4, resize: [24, 24], ...IMAGENET }, stream: 9,
  },
  {
    name: 'Pet-size N=1 250x190x3 flip rot 10 jitter -> 224x224', shape: { n: 1, h: 250, w: 190, c: 3 },
    options: { flip: 0.5, rotateDegrees: 10, brightness: 0.4, contrast: 0.4, resize: [224, 224], ...IMAGENET }, stream: 10,
  },
];

export const AUGMENT_SEED = 20240917;

export function augmentCases(): ValidationCase[] {
  return AUGMENT_CASES.map(({ name, shape, options, stream }) => define('augment', name, async (rt) => {
    const bytes = randomBytes(shape.n * shape.h * shape.w * shape.c);
    const params = drawAugmentParams(shape, options, AUGMENT_SEED, stream);
    const images = uploadImages(rt, bytes, shape);
    const got = await take(augmentWithParams(rt, images, shape, options, params));
    return { got, ref: augmentReference(bytes, shape, options, params), tolerance: augmentTolerance(shape, options) };
  }));
}
