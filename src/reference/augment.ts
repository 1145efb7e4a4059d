// Float64 reference of the augmentation pipeline, written stage by stage on whole images (the GPU composes
// the geometric stages into one gather): ToTensor -> pad + crop -> flip -> resize -> rotate -> brightness ->
// contrast -> normalize, each with torchvision's float-tensor semantics. It replays given per-sample draws.
import type { AugmentOptions, ImageShape, SampleAugment } from '../ops/augment.ts';

/** An image [h, w, c] in float64, channels innermost. */
export interface Plane { h: number; w: number; c: number; data: Float64Array }

const plane = (h: number, w: number, c: number): Plane => ({ h, w, c, data: new Float64Array(h * w * c) });
const at = (p: Plane, y: number, x: number, ch: number) => (y * p.w + x) * p.c + ch;

/** torchvision RandomCrop with zero padding: window rows top-padding.., cols left-padding.. of the source. */
export function cropReference(src: Plane, padding: number, top: number, left: number, cropH: number, cropW: number): Plane {
  const out = plane(cropH, cropW, src.c);
  for (let v = 0; v < cropH; v++) {
    for (let u = 0; u < cropW; u++) {
      const y = top - padding + v, x = left - padding + u;
      if (y < 0 || x < 0 || y >= src.h || x >= src.w) continue;
      for (let ch = 0; ch < src.c; ch++) out.data[at(out, v, u, ch)] = src.data[at(src, y, x, ch)];
    }
  }
  return out;
}

export function flipReference(src: Plane): Plane {
  const out = plane(src.h, src.w, src.c);
  for (let y = 0; y < src.h; y++) {
    for (let x = 0; x < src.w; x++) {
      for (let ch = 0; ch < src.c; ch++) out.data[at(out, y, x, ch)] = src.data[at(src, y, src.w - 1 - x, ch)];
    }
  }
  return out;
}

/** F.interpolate(mode='bilinear', align_corners=False, antialias=False). */
export function resizeReference(src: Plane, outH: number, outW: number): Plane {
  const out = plane(outH, outW, src.c);
  const tap = (dst: number, inSize: number, outSize: number) => {
    const s = Math.max((dst + 0.5) * (inSize / outSize) - 0.5, 0);
    const lo = Math.min(Math.floor(s), inSize - 1);
    return { lo, hi: Math.min(lo + 1, inSize - 1), frac: s - lo };
  };
  for (let y = 0; y < outH; y++) {
    const ty = tap(y, src.h, outH);
    for (let x = 0; x < outW; x++) {
      const tx = tap(x, src.w, outW);
      for (let ch = 0; ch < src.c; ch++) {
        const v = (yy: number, xx: number) => src.data[at(src, yy, xx, ch)];
        const top = (1 - tx.frac) * v(ty.lo, tx.lo) + tx.frac * v(ty.lo, tx.hi);
        const bottom = (1 - tx.frac) * v(ty.hi, tx.lo) + tx.frac * v(ty.hi, tx.hi);
        out.data[at(out, y, x, ch)] = (1 - ty.frac) * top + ty.frac * bottom;
      }
    }
  }
  return out;
}

/**
 * torchvision's rotate on a tensor (interpolation bilinear, fill 0): counter-clockwise as displayed, about the
 * center ((w-1)/2, (h-1)/2) of pixel indices; grid_sample with zero padding, so each of the four corners
 * outside the image contributes 0.
 */
export function rotateReference(src: Plane, angleDegrees: number): Plane {
  const out = plane(src.h, src.w, src.c);
  const radians = angleDegrees * Math.PI / 180;
  const cos = Math.cos(radians), sin = Math.sin(radians);
  const cx = (src.w - 1) / 2, cy = (src.h - 1) / 2;
  for (let y = 0; y < src.h; y++) {
    for (let x = 0; x < src.w; x++) {
      const sx = cos * (x - cx) - sin * (y - cy) + cx;
      const sy = sin * (x - cx) + cos * (y - cy) + cy;
      const x0 = Math.floor(sx), y0 = Math.floor(sy);
      const fx = sx - x0, fy = sy - y0;
      for (let ch = 0; ch < src.c; ch++) {
        const v = (yy: number, xx: number) => (yy < 0 || xx < 0 || yy >= src.h || xx >= src.w ? 0 : src.data[at(src, yy, xx, ch)]);
        const top = (1 - fx) * v(y0, x0) + fx * v(y0, x0 + 1);
        const bottom = (1 - fx) * v(y0 + 1, x0) + fx * v(y0 + 1, x0 + 1);
        out.data[at(out, y, x, ch)] = (1 - fy) * top + fy * bottom;
      }
    }
  }
  return out;
}

const clamp01 = (v: number) => Math.min(Math.max(v, 0), 1);

/** adjust_brightness: a blend with black, clamped to [0, 1]. */
export function brightnessReference(src: Plane, factor: number): Plane {
  return { ...src, data: src.data.map((v) => clamp01(factor * v)) };
}

/** Mean of rgb_to_grayscale (0.2989 R + 0.587 G + 0.114 B), or of the single channel. */
export function grayMeanReference(src: Plane): number {
  let sum = 0;
  for (let p = 0; p < src.h * src.w; p++) {
    const i = p * src.c;
    sum += src.c === 1 ? src.data[i] : 0.2989 * src.data[i] + 0.587 * src.data[i + 1] + 0.114 * src.data[i + 2];
  }
  return sum / (src.h * src.w);
}

/** adjust_contrast: a blend with the image's mean gray level, clamped to [0, 1]. */
export function contrastReference(src: Plane, factor: number): Plane {
  const mean = grayMeanReference(src);
  return { ...src, data: src.data.map((v) => clamp01(factor * v + (1 - factor) * mean)) };
}

/** The whole pipeline on uint8 NHWC bytes with the given draws; returns [n, outH, outW, c] in float64. */
export function augmentReference(bytes: Uint8Array, shape: ImageShape, options: AugmentOptions, params: readonly SampleAugment[]): Float64Array {
  const { n, h, w, c } = shape;
  const padding = options.crop?.padding ?? 0;
  const size = options.crop?.size ?? [h, w];
  const [cropH, cropW] = typeof size === 'number' ? [size, size] : size;
  const [outH, outW] = options.resize ?? [cropH, cropW];
  const out = new Float64Array(n * outH * outW * c);
  for (let i = 0; i < n; i++) {
    const p = params[i];
    // ToTensor: bytes to [0, 1] before anything else, as the float-tensor transforms expect.
    let img: Plane = { h, w, c, data: Float64Array.from(bytes.subarray(i * h * w * c, (i + 1) * h * w * c), (b) => b / 255) };
    img = cropReference(img, padding, p.top, p.left, cropH, cropW);
    if (p.flip) img = flipReference(img);
    if (outH !== cropH || outW !== cropW) img = resizeReference(img, outH, outW);
    if (p.angleDegrees !== 0) img = rotateReference(img, p.angleDegrees);
    img = brightnessReference(img, p.brightness);
    if ((options.contrast ?? 0) > 0 || p.contrast !== 1) img = contrastReference(img, p.contrast);
    const base = i * outH * outW * c;
    img.data.forEach((v, k) => { out[base + k] = (v - options.mean[k % c]) / options.std[k % c]; });
  }
  return out;
}
