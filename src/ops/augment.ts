// Training-time augmentation of a uint8 NHWC batch into normalized f32 NHWC on the GPU (shaders/augment.wgsl).
// The random parameters are drawn on the CPU from the project's counter-based RNG, one fixed block of draws per
// sample, so the same (seed, stream) gives the same batch and the CPU reference can replay the exact draws.
import type { Runtime } from '../gpu/runtime.ts';
import { Tensor } from '../tensor.ts';
import { CpuRandom } from '../rng.ts';

export interface ImageShape { n: number; h: number; w: number; c: number }

/**
 * Which augmentations run, in this order: crop (zero padding, then a random window) -> horizontal flip ->
 * resize -> rotation -> brightness -> contrast -> normalize. Absent or zero options are off.
 */
export interface AugmentOptions {
  /** torchvision RandomCrop(size, padding): pad every side with zeros, then take a random size window. */
  crop?: { padding: number; size: number | readonly [number, number] };
  /** Probability of a horizontal flip. */
  flip?: number;
  /** Rotation by an angle drawn uniformly from [-rotateDegrees, rotateDegrees), counter-clockwise positive. */
  rotateDegrees?: number;
  /** Brightness factor drawn from [max(0, 1 - x), 1 + x] (torchvision ColorJitter). */
  brightness?: number;
  /** Contrast factor drawn from [max(0, 1 - x), 1 + x] (torchvision ColorJitter). */
  contrast?: number;
  /** Bilinear resize of the (cropped) image to [height, width], align_corners=False, no antialias. */
  resize?: readonly [number, number];
  /** Per-channel normalization on the 0..1 scale: (x - mean[c]) / std[c]. */
  mean: readonly number[];
  std: readonly number[];
}

/** One sample's draws. `top`/`left` index the zero-padded image, like torchvision's RandomCrop.get_params. */
export interface SampleAugment {
  top: number;
  left: number;
  flip: boolean;
  angleDegrees: number;
  brightness: number;
  contrast: number;
}

/** The sizes every stage works at, resolved from the input shape and the options. */
export interface AugmentGeometry {
  padding: number;
  cropH: number;
  cropW: number;
  outH: number;
  outW: number;
}

const isCount = (v: number) => Number.isInteger(v) && v >= 1;

export function augmentGeometry(shape: ImageShape, options: AugmentOptions): AugmentGeometry {
  const { n, h, w, c } = shape;
  if (![n, h, w].every(isCount)) throw new Error(`augment: bad image shape n=${n} h=${h} w=${w}`);
  if (c !== 1 && c !== 3) throw new Error(`augment: images have 1 or 3 channels (grayscale, RGB), got ${c}`);
  if (options.mean.length !== c || options.std.length !== c) throw new Error(`augment: mean and std need ${c} values, got ${options.mean.length} and ${options.std.length}`);
  if (!options.std.every((s) => s > 0)) throw new Error(`augment: std must be positive, got [${options.std}]`);
  const padding = options.crop?.padding ?? 0;
  const size = options.crop?.size ?? [h, w];
  const [cropH, cropW] = typeof size === 'number' ? [size, size] : size;
  if (!(Number.isInteger(padding) && padding >= 0) || !isCount(cropH) || !isCount(cropW)) throw new Error(`augment: bad crop ${JSON.stringify(options.crop)}`);
  if (cropH > h + 2 * padding || cropW > w + 2 * padding) throw new Error(`augment: crop ${cropH}x${cropW} is larger than the padded image ${h + 2 * padding}x${w + 2 * padding}`);
  const [outH, outW] = options.resize ?? [cropH, cropW];
  if (!isCount(outH) || !isCount(outW)) throw new Error(`augment: bad resize [${options.resize}]`);
  for (const [name, value] of [['flip', options.flip], ['rotateDegrees', options.rotateDegrees], ['brightness', options.brightness], ['contrast', options.contrast]] as const) {
    if (value !== undefined && !(value >= 0)) throw new Error(`augment: ${name} must be non-negative, got ${value}`);
  }
  return { padding, cropH, cropW, outH, outW };
}

export function augmentOutputShape(shape: ImageShape, options: AugmentOptions): [number, number, number, number] {
  const { outH, outW } = augmentGeometry(shape, options);
  return [shape.n, outH, outW, shape.c];
}

// Every sample owns a fixed block of draws whatever the options, so turning one augmentation on or off, or
// changing the batch size, leaves the other samples' and the other augmentations' draws unchanged.
const DRAWS_PER_SAMPLE = 6;
const WORDS_PER_DRAW = 2;  // CpuRandom.next() consumes two 32-bit words

function jitterRange(x: number | undefined): [number, number] {
  return x ? [Math.max(0, 1 - x), 1 + x] : [1, 1];
}

/** The per-sample parameters of batch `stream` under `seed` (what augmentBatch uses; the reference replays them). */
export function drawAugmentParams(shape: ImageShape, options: AugmentOptions, seed: number, stream: number): SampleAugment[] {
  const { padding, cropH, cropW } = augmentGeometry(shape, options);
  const random = new CpuRandom(seed, stream);
  const [bLow, bHigh] = jitterRange(options.brightness);
  const [cLow, cHigh] = jitterRange(options.contrast);
  const degrees = options.rotateDegrees ?? 0;
  const flipProbability = options.flip ?? 0;
  const params: SampleAugment[] = [];
  for (let i = 0; i < shape.n; i++) {
    random.position = i * DRAWS_PER_SAMPLE * WORDS_PER_DRAW;
    const u = Array.from({ length: DRAWS_PER_SAMPLE }, () => random.next());
    params.push({
      top: Math.floor(u[0] * (shape.h + 2 * padding - cropH + 1)),
      left: Math.floor(u[1] * (shape.w + 2 * padding - cropW + 1)),
      flip: u[2] < flipProbability,
      angleDegrees: degrees * (2 * u[3] - 1),
      brightness: bLow + (bHigh - bLow) * u[4],
      contrast: cLow + (cHigh - cLow) * u[5],
    });
  }
  return params;
}

/** Packs a batch of uint8 images 4 bytes per u32 word (zero-padded to whole words) into a u32 tensor. */
export function uploadImages(rt: Runtime, bytes: Uint8Array, shape: ImageShape): Tensor {
  const count = shape.n * shape.h * shape.w * shape.c;
  if (bytes.length !== count) throw new Error(`uploadImages: shape ${shape.n}x${shape.h}x${shape.w}x${shape.c} holds ${count} bytes, got ${bytes.length}`);
  const words = new Uint32Array(Math.ceil(count / 4));
  // Uint32Array views are host-endian; every platform Dawn runs on is little-endian, like WGSL's u32 loads.
  new Uint8Array(words.buffer).set(bytes);
  return Tensor.upload(rt, words, [words.length], 'u32');
}

const SAMPLE_WORDS = 8;  // sizeof(SampleParams) / 4 in shaders/augment.wgsl

function packSamples(rt: Runtime, params: readonly SampleAugment[], padding: number): Tensor {
  const view = new DataView(new ArrayBuffer(params.length * SAMPLE_WORDS * 4));
  params.forEach((p, i) => {
    const at = i * SAMPLE_WORDS * 4;
    const radians = p.angleDegrees * Math.PI / 180;
    view.setInt32(at, p.top - padding, true);
    view.setInt32(at + 4, p.left - padding, true);
    view.setUint32(at + 8, p.flip ? 1 : 0, true);
    view.setFloat32(at + 12, Math.cos(radians), true);
    view.setFloat32(at + 16, Math.sin(radians), true);
    view.setFloat32(at + 20, p.brightness, true);
    view.setFloat32(at + 24, p.contrast, true);
  });
  return Tensor.upload(rt, new Uint32Array(view.buffer), [params.length * SAMPLE_WORDS], 'u32');
}

const vec4 = (v: readonly number[], fill: number) => [0, 1, 2, 3].map((i) => v[i] ?? fill);

/** Augments with given per-sample parameters (tests hand-pick them; training uses augmentBatch). */
export function augmentWithParams(rt: Runtime, images: Tensor, shape: ImageShape, options: AugmentOptions, params: readonly SampleAugment[]): Tensor {
  const geometry = augmentGeometry(shape, options);
  const { cropH, cropW, outH, outW } = geometry;
  const { n, h, w, c } = shape;
  if (images.dtype !== 'u32') throw new Error(`augment: images are packed bytes in a u32 tensor (uploadImages), got ${images.dtype}`);
  const words = Math.ceil(n * h * w * c / 4);
  if (images.size < words) throw new Error(`augment: ${n}x${h}x${w}x${c} bytes need ${words} words, the tensor holds ${images.size}`);
  if (params.length !== n) throw new Error(`augment: ${params.length} sample parameters for ${n} images`);
  const rotate = (options.rotateDegrees ?? 0) > 0 || params.some((p) => p.angleDegrees !== 0);
  const resize = outH !== cropH || outW !== cropW;
  const contrast = (options.contrast ?? 0) > 0 || params.some((p) => p.contrast !== 1);
  const samples = packSamples(rt, params, geometry.padding);
  const out = Tensor.empty(rt, [n, outH, outW, c]);
  const pixels = n * outH * outW;
  const uniforms = {
    images: n, srcH: h, srcW: w, channels: c, cropH, cropW, outH, outW, pixels, elements: pixels * c,
    scaleY: cropH / outH, scaleX: cropW / outW, channelMean: vec4(options.mean, 0), channelStd: vec4(options.std, 1),
  };
  rt.launch({
    shader: 'augment', entry: 'warp', overrides: { ROTATE: rotate, RESIZE: resize, FINAL: !contrast },
    bindings: { bytes: images, samples, out }, needs: { bytes: words, samples: n, out: out.size },
    uniforms, invocations: pixels,
  });
  if (contrast) {
    const grayMeans = Tensor.empty(rt, [n]);
    rt.launch({ shader: 'augment', entry: 'gray_mean', bindings: { out, grayMeans }, needs: { out: out.size, grayMeans: n }, uniforms, workgroups: n });
    rt.launch({
      shader: 'augment', entry: 'blend_normalize', bindings: { samples, out, grayMeans },
      needs: { samples: n, out: out.size, grayMeans: n }, uniforms, invocations: out.size,
    });
    grayMeans.dispose();
  }
  samples.dispose();
  return out;
}

/**
 * The augmented, normalized batch [n, outH, outW, c] (f32) of batch `stream` under `seed`. The draws are
 * CpuRandom(seed, stream) words, so a caller that also shuffles or samples from CpuRandom must give
 * augmentation a (seed, stream) of its own, or the two would reuse the same random words.
 */
export function augmentBatch(rt: Runtime, images: Tensor, shape: ImageShape, options: AugmentOptions, seed: number, stream: number): Tensor {
  return augmentWithParams(rt, images, shape, options, drawAugmentParams(shape, options, seed, stream));
}
