// 2-D convolution on NHWC activations with OHWI weights ([Cout, KH, KW, Cin]), forward and both gradients,
// all as GEMMs on the matmul kernels (see shaders/conv.wgsl for the three products).
//
// Why NHWC: a patch row is then KH*KW contiguous runs of Cin channels, so im2col reads whole vec4s of one
// pixel, the GEMM's output [N*Ho*Wo, Cout] is already the next layer's NHWC input (no transposes between
// layers), and batch-norm's per-channel vectors line up with the contiguous axis.
import { Tensor } from '../tensor.ts';
import { Runtime } from '../gpu/runtime.ts';
import { add } from './elementwise.ts';
import { copy, fill } from './fill.ts';
import { sum } from './reduce.ts';
import { widthBindings, widthFor } from './vec4-twin.ts';
import { convKSteps, defaultMatmulVariant, denseSource, type KSteps, matmul, packStackToTexture, SLAB_ALIGN, subgroupGrid, textureGemm, type MatmulVariant, type TextureSource } from './matmul.ts';

export interface ConvOptions {
  stride?: number;
  padding?: number;
  /** Force a GEMM design (tests, benchmarks); default: the one tuned for this adapter. */
  variant?: MatmulVariant;
  /** Force the subgroup convs' k steps per loop iteration (tests, tuning); default: the one tuned here. */
  kSteps?: KSteps;
}

export interface ConvGeometry {
  N: number; H: number; W: number; C: number;
  Cout: number; KH: number; KW: number;
  stride: number; pad: number;
  Ho: number; Wo: number;
  /** Patch rows and columns of the GEMM. */
  M: number; K: number;
}

export function convOutputSize(size: number, kernel: number, stride: number, pad: number): number {
  return Math.floor((size + 2 * pad - kernel) / stride) + 1;
}

export function convGeometry(xShape: readonly number[], wShape: readonly number[], options: ConvOptions = {}): ConvGeometry {
  if (xShape.length !== 4) throw new Error(`conv2d: input must be NHWC [N, H, W, C], got [${xShape}]`);
  if (wShape.length !== 4) throw new Error(`conv2d: weight must be OHWI [Cout, KH, KW, Cin], got [${wShape}]`);
  const [N, H, W, C] = xShape;
  const [Cout, KH, KW, Cin] = wShape;
  if (Cin !== C) throw new Error(`conv2d: input has ${C} channels but the weight [${wShape}] expects ${Cin}`);
  const stride = options.stride ?? 1, pad = options.padding ?? 0;
  if (!(Number.isInteger(stride) && stride >= 1 && Number.isInteger(pad) && pad >= 0)) throw new Error(`conv2d: bad stride ${stride} or padding ${pad}`);
  const Ho = convOutputSize(H, KH, stride, pad), Wo = convOutputSize(W, KW, stride, pad);
  if (Ho < 1 || Wo < 1) throw new Error(`conv2d: a ${KH}x${KW} kernel with padding ${pad} does not fit a ${H}x${W} input`);
  return { N, H, W, C, Cout, KH, KW, stride, pad, Ho, Wo, M: N * Ho * Wo, K: KH * KW * C };
}

/**
 * The kernel taps that meet the input for some output pixel, when that is a smaller box than the kernel: a
 * 3x3 conv with padding 1 on a 1x1 map only ever uses its centre (ResNet-18's last stage on 28x28 images), and
 * the taps outside the box multiply padding zeros only. Null when every tap is live, or when the box would need
 * a different padding per side (our geometry has one). The cropped conv computes the same outputs exactly.
 */
export function liveTaps(g: ConvGeometry): { kh0: number; kw0: number; KH: number; KW: number; pad: number } | null {
  // Tap k meets row oh * stride + k - pad: inside [0, size) for some oh in [0, out) from the first to the last.
  const first = (out: number) => Math.max(0, g.pad - (out - 1) * g.stride);
  const last = (size: number, kernel: number) => Math.min(kernel - 1, size - 1 + g.pad);
  const kh0 = first(g.Ho), kw0 = first(g.Wo);
  const KH = last(g.H, g.KH) - kh0 + 1, KW = last(g.W, g.KW) - kw0 + 1;
  if ((KH === g.KH && KW === g.KW) || kh0 !== kw0 || KH < 1 || KW < 1) return null;
  const pad = g.pad - kh0;
  if (convOutputSize(g.H, KH, g.stride, pad) !== g.Ho || convOutputSize(g.W, KW, g.stride, pad) !== g.Wo) return null;
  return { kh0, kw0, KH, KW, pad };
}

/**
 * The taps [kh0, kh0 + KH) x [kw0, kw0 + KW) of the OHWI weights `src` as a dense [Cout, KH, KW, C] tensor, or
 * (`toFull`) a dense box put back at those taps of a zeroed tensor of shape `fullShape`.
 */
function tapBox(src: Tensor, fullShape: readonly number[], box: { kh0: number; kw0: number; KH: number; KW: number }, toFull: boolean): Tensor {
  const [Cout, fullKH, fullKW, C] = fullShape;
  const out = toFull ? fill(Tensor.empty(src.rt, fullShape), 0) : Tensor.empty(src.rt, [Cout, box.KH, box.KW, C]);
  const w = widthFor(C % 4 === 0);   // channels as vec4s when they come in fours
  src.rt.launch({
    shader: 'conv', entry: `tap_box${w.suffix}`, ...widthBindings(w, { weight: [src, src.size], weightOut: [out, out.size] }),
    uniforms: { Cout, C: C / w.width, KH: box.KH, KW: box.KW, fullKH, fullKW, kh0: box.kh0, kw0: box.kw0, toFull: toFull ? 1 : 0 },
    invocations: [C / w.width, Math.ceil(Cout / 8)],
  });
  return out;
}

/** What one dispatch covers: `total` elements written, and for the slab kernels the slab's rows and padded extent. */
interface ConvSlice { total: number; m0?: number; rows?: number; rowsPadded?: number; colsPadded?: number }

/** The Conv struct: the geometry, and the slice fields a kernel does not read left at 0. */
function convUniforms(g: ConvGeometry, { total, m0 = 0, rows = 0, rowsPadded = 0, colsPadded = 0 }: ConvSlice) {
  const { C4, Hp, Wp } = paddedExtent(g);
  return {
    N: g.N, H: g.H, W: g.W, C: g.C, Ho: g.Ho, Wo: g.Wo, KH: g.KH, KW: g.KW, stride: g.stride, pad: g.pad, K: g.K,
    m0, rows, rowsPadded, colsPadded, total, Cout: g.Cout, C4, Hp, Wp,
  };
}

// ---- implicit GEMM (subgroup design): patches read from the padded input texture ----------------------------

/** total + part, freeing both (the first part is the total): partial products summed in a fixed order. */
function addInOrder(total: Tensor | null, part: Tensor): Tensor {
  if (total === null) return part;
  const next = add(total, part);
  total.dispose(); part.dispose();
  return next;
}

function paddedExtent(g: ConvGeometry) {
  const C4 = Math.ceil(g.C / 4);
  return { C4, Hp: g.H + 2 * g.pad, Wp: g.W + 2 * g.pad, Kq: g.KH * g.KW * 4 * C4 };
}

const roundUp = (v: number, m: number) => Math.ceil(v / m) * m;

/** The weight-gradient chunk: A = dY^T holds one texel per 4 patch rows, so a chunk spans 4x the texture limit. */
function implicitFits(rt: Runtime, g: ConvGeometry): boolean {
  const max = rt.ctx.limits.maxTextureDimension2D ?? 8192;
  const { C4, Hp, Wp, Kq } = paddedExtent(g);
  return Wp * C4 <= max && g.N * Hp <= max && Kq <= max && roundUp(g.Cout, 64) <= max && roundUp(Kq, 32) / 4 <= max;
}

function paddedInput(x: Tensor, g: ConvGeometry): GPUTexture {
  const { C4, Hp, Wp } = paddedExtent(g);
  const texture = x.rt.textures.acquire(Wp * C4, g.N * Hp);
  const c4 = g.C % 4 === 0;
  // A copy needs rows of whole texels (C in 4s) of 256-byte multiples (W * C in 64s: every ResNet layer past the
  // stem).
  if (c4 && Runtime.rowsCopyable(x.byteOffset, g.W * g.C * 4)) {
    copyPadded(x, g, texture);
    return texture;
  }
  x.rt.launch({
    shader: 'conv', entry: c4 ? 'pad_input_c4' : 'pad_input', bindings: c4 ? { x4: x, dstTex: texture } : { x, dstTex: texture },
    needs: c4 ? { x4: x.size / 4 } : { x: x.size },
    uniforms: convUniforms(g, { total: Wp * C4 * g.N * Hp }), invocations: [Wp * C4, Hp, g.N],
  });
  return texture;
}

/**
 * The padded input by copies (7-12x the pad kernel's speed on lavapipe, where texel stores are slow): each image's
 * rows into the interior, and zeros into the border, which a pooled texture may hold stale values in.
 */
function copyPadded(x: Tensor, g: ConvGeometry, texture: GPUTexture): void {
  const rt = x.rt;
  const { C4, Hp, Wp } = paddedExtent(g);
  const bytesPerRow = g.W * g.C * 4;
  const interior = (n0: number, height: number) => rt.copyToTexture(
    { buffer: x.buffer, offset: x.byteOffset + n0 * g.H * bytesPerRow, bytesPerRow }, texture, [g.pad * C4, n0 * Hp + g.pad], [g.W * C4, height]);
  if (g.pad === 0) {
    interior(0, g.N * g.H);   // no border: the images' rows follow one another as in x
    return;
  }
  for (let n = 0; n < g.N; n++) interior(n, g.H);
  // Rows: the first image's top, then each image's bottom with the next one's top, in one copy.
  rt.zeroTexture(texture, [0, 0], [Wp * C4, g.pad]);
  for (let n = 0; n < g.N; n++) rt.zeroTexture(texture, [0, n * Hp + g.pad + g.H], [Wp * C4, n < g.N - 1 ? 2 * g.pad : g.pad]);
  // Columns: left and right, down the whole texture.
  rt.zeroTexture(texture, [0, 0], [g.pad * C4, g.N * Hp]);
  rt.zeroTexture(texture, [(g.pad + g.W) * C4, 0], [g.pad * C4, g.N * Hp]);
}

function implicitDims(g: ConvGeometry, M: number, N: number, K: number, Kp: number, Np: number, tilesM: number, patchOffset: number, tileCols = 32) {
  const { C4, Hp } = paddedExtent(g);
  return {
    M, N, K, Kp, Np, strideA: 0, strideB: 0, strideC: 0, tilesN: Np / tileCols, tilesM, transA: 0, transB: 0,
    Ho: g.Ho, Wo: g.Wo, Hp, C4, KW: g.KW, stride: g.stride, patches: g.M, patchOffset,
  };
}

/**
 * The output block of one subgroup in the conv kernels of shaders/conv_subgroup.wgsl, whose entries carry the
 * suffix: 64 rows x 32 columns, or (`wide`, for columns that come in 64s) 32 x 64, with the same loads and FMAs per
 * k step but half the broadcasts.
 */
function subgroupTile(wide: boolean): { rows: number; cols: number; suffix: '' | '32x8' } {
  return wide ? { rows: 32, cols: 64, suffix: '32x8' } : { rows: 64, cols: 32, suffix: '' };
}

/**
 * y = conv(x, w) as one implicit GEMM. `flipped`: w is a forward weight [C', KH, KW, Cout'] whose flipped,
 * channel-transposed version is wanted (the input gradient of a stride-1 conv, with g its transposed geometry).
 */
function convForwardImplicit(x: Tensor, w: Tensor, y: Tensor, g: ConvGeometry, kSteps: KSteps, flipped = false, keepInput = false): PaddedInput | null {
  const rt = x.rt;
  const { Kq } = paddedExtent(g);
  const Np = roundUp(g.Cout, 32);
  const input = paddedInput(x, g);
  // Output channels in 64s: the forward and input gradient 1.1-1.25x faster on every CIFAR layer (paired).
  const tile = subgroupTile(Np % 64 === 0);
  const copyT = !flipped && tile.cols === 64 && Np === g.Cout && Kq === g.K && Runtime.rowsCopyable(w.byteOffset, g.K * 4);
  const weights = copyT ? rt.textures.acquire(Kq / 4, g.Cout) : rt.textures.acquire(Np / 4, Kq);
  // Two k steps per iteration take Kq in 8s (not the RGB stem's 36); the transposed-weights kernel has no such
  // variant (no gain measured).
  const k2 = kSteps === 2 && !copyT && tile.cols === 64 && Kq % 8 === 0 ? '_k2' : '';
  if (copyT) {
    rt.copyToTexture({ buffer: w.buffer, offset: w.byteOffset, bytesPerRow: g.K * 4 }, weights, [0, 0], [Kq / 4, g.Cout]);
  } else if (!(flipped && copyFlippedWeights(w, g, weights, Np))) {
    rt.launch({
      shader: 'conv', entry: flipped ? 'weights_texture_flipped' : 'weights_texture', bindings: { weight: w, dstTex: weights }, needs: { weight: w.size },
      uniforms: convUniforms(g, { total: Kq * Np / 4, colsPadded: Np }), invocations: [Np / 4, Kq / (g.KH * g.KW), g.KH * g.KW],
    });
  }
  // The output is written in slabs of whole images when one binding cannot hold it (large batches).
  const perImage = g.Ho * g.Wo;
  const slabImages = imagesPerSlab(rt, perImage * g.Cout * 4, g.N);
  const align = rt.ctx.limits.minStorageBufferOffsetAlignment ?? 256;
  for (let n0 = 0; n0 < g.N; n0 += slabImages) {
    const rows = Math.min(slabImages, g.N - n0) * perImage;
    const offset = n0 * perImage * g.Cout * 4;
    const direct = (y.byteOffset + offset) % align === 0;
    const target = direct ? y : Tensor.empty(rt, [rows, g.Cout]);
    const tilesM = Math.ceil(rows / tile.rows);
    const grid = subgroupGrid(tilesM * (Np / tile.cols));
    rt.launch({
      shader: 'conv_subgroup', entry: `conv_fwd${copyT ? 'T' : ''}${tile.suffix}${k2}`, overrides: grid.overrides,
      bindings: { aTex: input, bTex: weights, c: { buffer: target.buffer, offset: target.byteOffset + (direct ? offset : 0), size: rows * g.Cout * 4 } },
      uniforms: implicitDims(g, rows, g.Cout, Kq, Kq, Np, tilesM, n0 * perImage, tile.cols),
      invocations: grid.lanes,
    });
    if (!direct) {
      copy(target, y, rows * g.Cout, 0, n0 * perImage * g.Cout);
      target.dispose();
    }
  }
  rt.textures.release(weights);
  if (keepInput) return new PaddedInput(rt, input);
  rt.textures.release(input);
  return null;
}

/**
 * The flipped weights (see weights_texture_flipped in shaders/conv.wgsl) by copies, where no texel needs padding
 * and the rows are copyable; false where not. Texture rows (tap', c) hold W[c, flip(tap'), 0..Cout) in order,
 * which are rows of the OHWI weights KH * KW * Cout floats apart: one strided copy per tap, instead of a kernel's
 * texel stores.
 */
function copyFlippedWeights(w: Tensor, g: ConvGeometry, texture: GPUTexture, Np: number): boolean {
  const { C4 } = paddedExtent(g);
  const taps = g.KH * g.KW, bytesPerRow = taps * g.Cout * 4;
  if (Np !== g.Cout || C4 * 4 !== g.C || !Runtime.rowsCopyable(w.byteOffset, bytesPerRow)) return false;
  for (let tap = 0; tap < taps; tap++) {
    w.rt.copyToTexture({ buffer: w.buffer, offset: w.byteOffset + (taps - 1 - tap) * g.Cout * 4, bytesPerRow }, texture, [0, tap * g.C], [g.Cout / 4, g.C]);
  }
  return true;
}

/**
 * x as the implicit GEMMs read it (a zero-padded texture): the forward makes it and the weight gradient reads
 * the same x, so a training step keeps it from one to the other instead of padding x twice.
 */
export class PaddedInput {
  constructor(private rt: Runtime, readonly texture: GPUTexture) {}
  dispose(): void {
    this.rt.textures.release(this.texture);
  }
}

/** Workgroups worth keeping busy: enough for both of lavapipe's threads many times over, and for small GPUs. */
const TARGET_WORKGROUPS = 64;

/**
 * The sum of a weight gradient's chunk partials [chunks, n] in chunk order, freeing them; one chunk (a layer with
 * few patch rows) is the gradient itself.
 */
function chunkTotal(partials: Tensor): Tensor {
  if (partials.shape[0] === 1) return partials;
  const total = sum(partials, 0);
  partials.dispose();
  return total;
}

/** Chunks of the weight gradient's patch rows: enough for TARGET_WORKGROUPS, each at least 256 rows. */
function weightGradChunks(workgroupsPerChunk: number, patchRows: number): number {
  return Math.max(1, Math.min(Math.ceil(TARGET_WORKGROUPS / workgroupsPerChunk), Math.floor(patchRows / 256)));
}

/**
 * dW'[Cout, K'] = dY^T . P with the patches read from the padded input. The reduction over the M patch rows is
 * split into S equal chunks that run side by side (one per workgroup-grid z) into partials [S, Cout, K'], which
 * are then summed in chunk order: a layer with few weights (the stem: 64 x 36) still fills the device, and the
 * result does not depend on scheduling.
 */
function convWeightGradImplicit(dy: Tensor, x: Tensor, g: ConvGeometry, wShape: readonly number[], padded: PaddedInput | null, kSteps: KSteps): Tensor {
  const rt = x.rt;
  const max = rt.ctx.limits.maxTextureDimension2D ?? 8192;
  const { C4, Kq } = paddedExtent(g);
  // Patch columns in 64s (C a multiple of 64): 1.1-1.4x on every CIFAR layer (paired).
  const tile = subgroupTile(Kq % 64 === 0);
  const Np = roundUp(Kq, tile.cols);
  const Mp = roundUp(g.Cout, tile.rows);
  const grid = subgroupGrid((Mp / tile.rows) * (Np / tile.cols));
  const perChunk = grid.workgroups;
  let chunks = weightGradChunks(perChunk, g.M);
  let chunk = roundUp(Math.ceil(g.M / chunks), SLAB_ALIGN);
  // dY^T holds 4 patch rows per texel, and 8 of its rows lie side by side (the 'lanes' layout): a chunk spans at
  // most twice the texture width.
  while (chunk * 2 > max) chunk = roundUp(Math.ceil(g.M / ++chunks), SLAB_ALIGN);
  chunks = Math.ceil(g.M / chunk);
  const perDispatch = Math.max(1, Math.floor(max / (Mp / 8)));
  const input = padded?.texture ?? paddedInput(x, g);
  const dyRows = flatView(dy, g.M, g.Cout);
  // Chunks start at multiples of 64 patch rows, so with Wo % 4 == 0 every 4 rows of a k step share an output row,
  // and two k steps per iteration always fit a chunk.
  const entry = `conv_dw${tile.suffix}${g.Wo % 4 === 0 ? '_row4' : ''}${kSteps === 2 && tile.cols === 64 ? '_k2' : ''}`;
  let total: Tensor | null = null;
  for (let first = 0; first < chunks; first += perDispatch) {
    const count = Math.min(perDispatch, chunks - first);
    const m0 = first * chunk;
    const gradT = rt.textures.acquire(chunk * 2, count * Mp / 8);
    packStackToTexture(rt, gradT, dyRows, {
      rows: g.Cout, cols: chunk, rowsPadded: Mp, colsPadded: chunk, trans: true, ld: g.Cout,
      srcStride: chunk * g.Cout, batch: count, srcLimit: g.M * g.Cout, colOffset: m0, lanes: true,
    });
    const partials = Tensor.empty(rt, [count, g.Cout * Kq]);
    rt.launch({
      shader: 'conv_subgroup', entry, overrides: grid.overrides,
      bindings: { aTex: gradT, bTex: input, c: partials }, needs: { c: partials.size },
      uniforms: { ...implicitDims(g, g.Cout, Kq, chunk, chunk, Np, Mp / tile.rows, m0, tile.cols), strideA: Mp, strideB: chunk, strideC: g.Cout * Kq },
      invocations: [grid.lanes, 1, count],
    });
    rt.textures.release(gradT);
    total = addInOrder(total, chunkTotal(partials));
  }
  if (!padded) rt.textures.release(input);
  if (C4 * 4 === g.C) return total!.takeAs(wShape);
  const dw = Tensor.empty(rt, wShape);
  rt.launch({
    shader: 'conv', entry: 'unpad_weights', bindings: { weight: total!, weightOut: dw }, needs: { weight: total!.size, weightOut: dw.size },
    uniforms: convUniforms(g, { total: dw.size }), invocations: dw.size,
  });
  total!.dispose();
  return dw;
}

// ---- implicit GEMM (tiled design, for real GPUs): patches gathered in the tile loads -------------------------

/** The tiled kernels bind whole tensors: each must fit one storage binding (else the slab paths run). */
function tiledFits(rt: Runtime, ...tensors: (Tensor | number)[]): boolean {
  return tensors.every((t) => (typeof t === 'number' ? t : t.size) * 4 <= rt.maxStorageBinding);
}

function tiledDims(g: ConvGeometry, M: number, N: number, K: number, extra: { strideC?: number; patches?: number } = {}) {
  return {
    M, N, K, strideC: extra.strideC ?? 0, patches: extra.patches ?? 0,
    H: g.H, W: g.W, C: g.C, Ho: g.Ho, Wo: g.Wo, Cout: g.Cout, KH: g.KH, KW: g.KW, stride: g.stride, pad: g.pad,
  };
}

/** One tiled conv product: 64 x 64 output tiles in (x, y), `batches` partial products in z. */
function tiledConv(rt: Runtime, entry: string, act: Tensor, dense: Tensor, c: Tensor, dims: ReturnType<typeof tiledDims>, batches = 1): void {
  rt.launch({
    shader: 'conv_tiled', entry, bindings: { act, dense, c }, needs: { c: batches * dims.M * dims.N },
    // One invocation per 4x4 block of C, as the tiled matmul.
    uniforms: dims, invocations: [Math.ceil(dims.N / 4), Math.ceil(dims.M / 4), batches],
  });
}

/** dW through the tiled kernel: the patch rows in chunks (z), partial products summed in chunk order. */
function convWeightGradTiled(dy: Tensor, x: Tensor, g: ConvGeometry, wShape: readonly number[]): Tensor {
  const rt = x.rt;
  const chunk = Math.ceil(g.M / weightGradChunks(Math.ceil(g.Cout / 64) * Math.ceil(g.K / 64), g.M));
  const count = Math.ceil(g.M / chunk);
  const partials = Tensor.empty(rt, [count, g.Cout * g.K]);
  tiledConv(rt, 'conv_dw_tiled', x, dy, partials, tiledDims(g, g.Cout, g.K, chunk, { strideC: g.Cout * g.K, patches: g.M }), count);
  return chunkTotal(partials).takeAs(wShape);
}

const isTextureDesign = (v: MatmulVariant): v is 'texture' | 'subgroup' => v === 'texture' || v === 'subgroup';

/** The patch matrix P of `x` (rows offset by `rowOffset`) as a texture source: gathered, never stored whole. */
function patchSource(x: Tensor, g: ConvGeometry, rowOffset: number, rows: number): TextureSource {
  return {
    rows, cols: g.K,
    write(rt, texture, r0, count, rowsPadded, colsPadded) {
      const total = rowsPadded * colsPadded / 4;
      const vec4Path = g.C % 4 === 0;
      rt.launch({
        shader: 'conv', entry: vec4Path ? 'im2col_texture_c4' : 'im2col_texture',
        bindings: vec4Path ? { x4: x, dstTex: texture } : { x, dstTex: texture },
        needs: vec4Path ? { x4: x.size / 4 } : { x: x.size },
        uniforms: convUniforms(g, { total, m0: rowOffset + r0, rows: count, rowsPadded, colsPadded }),
        invocations: total,
      });
    },
  };
}

/** Rows [m0, m0 + rows) of P as a dense tensor, for the buffer GEMMs. */
function patchRows(x: Tensor, g: ConvGeometry, m0: number, rows: number): Tensor {
  const cols = Tensor.empty(x.rt, [rows, g.K]);
  x.rt.launch({
    shader: 'conv', entry: 'im2col_buffer', bindings: { x, cols }, needs: { x: x.size, cols: cols.size },
    uniforms: convUniforms(g, { total: rows * g.K, m0, rows, rowsPadded: rows, colsPadded: g.K }), invocations: rows * g.K,
  });
  return cols;
}

/** Rows per slab when P is materialised for buffer GEMMs: about 64 MiB of patches at a time. */
function bufferSlabRows(g: ConvGeometry): number {
  return Math.max(SLAB_ALIGN, Math.floor((16 * 2 ** 20) / g.K / SLAB_ALIGN) * SLAB_ALIGN);
}

function flatView(t: Tensor, rows: number, cols: number): Tensor {
  return t.reshape([rows, cols]);
}

/** y[N, Ho, Wo, Cout] = conv(x, w) (+ bias). */
export function conv2d(x: Tensor, w: Tensor, bias: Tensor | null = null, options: ConvOptions = {}): Tensor {
  return conv2dKeepingInput(x, w, bias, options, false).y;
}

/**
 * The forward for training: also hands out x's padded texture where the design made one, for
 * conv2dBackwardWeight (the caller disposes it).
 */
export function conv2dKeepingInput(x: Tensor, w: Tensor, bias: Tensor | null = null, options: ConvOptions = {}, keep = true): { y: Tensor; padded: PaddedInput | null } {
  const rt = x.rt;
  const g = convGeometry(x.shape, w.shape, options);
  const live = liveTaps(g);
  // The cropped weights live as long as this scope; the result is kept.
  if (live) return rt.scope(() => conv2dKeepingInput(x, tapBox(w, w.shape, live, false), bias, { ...options, padding: live.pad }, keep));
  const variant = options.variant ?? defaultMatmulVariant(rt);
  const y = Tensor.empty(rt, [g.N, g.Ho, g.Wo, g.Cout]);
  const weight = flatView(w, g.Cout, g.K);
  let padded: PaddedInput | null = null;
  if (variant === 'subgroup' && implicitFits(rt, g)) {
    padded = convForwardImplicit(x, w, y, g, options.kSteps ?? convKSteps(rt), false, keep);
  } else if (variant === 'tiled' && tiledFits(rt, x, w, y)) {
    tiledConv(rt, 'conv_fwd_tiled', x, w, y, tiledDims(g, g.M, g.Cout, g.K));
  } else if (isTextureDesign(variant)) {
    textureGemm(rt, variant, patchSource(x, g, 0, g.M), denseSource(weight, g.K, g.Cout, { trans: true }), y.binding());
  } else {
    const slab = bufferSlabRows(g);
    for (let m0 = 0; m0 < g.M; m0 += slab) {
      const rows = Math.min(slab, g.M - m0);
      const cols = patchRows(x, g, m0, rows);
      const part = matmul(cols, weight, { transB: true, variant });
      copy(part, y, part.size, 0, m0 * g.Cout);
      cols.dispose(); part.dispose();
    }
  }
  if (!bias) return { y, padded };
  if (bias.size !== g.Cout) throw new Error(`conv2d: bias has ${bias.size} values for ${g.Cout} output channels`);
  const withBias = add(y, bias);
  y.dispose();
  return { y: withBias, padded };
}

/**
 * Whole images per slab so that a slab's `bytesPerImage`-sized buffer stays bindable on this adapter.
 * A test lowers the limit (rt.hooks.maxStorageBinding) to exercise the slabs on small shapes.
 */
function imagesPerSlab(rt: Runtime, bytesPerImage: number, N: number): number {
  const limit = rt.maxStorageBinding;
  return Math.max(1, Math.min(N, Math.floor(limit / bytesPerImage)));
}

/**
 * dx[N, H, W, C] from dy[N, Ho, Wo, Cout]: dP = dY . W (one GEMM), then col2im gathers the taps. dP has
 * KH*KW times dY's columns, so it is formed for slabs of whole images that fit one storage binding.
 */
export function conv2dBackwardInput(dy: Tensor, w: Tensor, xShape: readonly number[], options: ConvOptions = {}): Tensor {
  const rt = dy.rt;
  const g = convGeometry(xShape, w.shape, options);
  checkGradShape(dy, g);
  const live = liveTaps(g);
  if (live) return rt.scope(() => conv2dBackwardInput(dy, tapBox(w, w.shape, live, false), xShape, { ...options, padding: live.pad }));
  const variant = options.variant ?? defaultMatmulVariant(rt);
  const dx = Tensor.empty(rt, xShape);
  // (Not for a few input channels, like an RGB stem: the GEMM's 32-column tiles would be mostly padding.)
  if (variant === 'subgroup' && g.stride === 1 && g.pad <= g.KH - 1 && g.KH === g.KW && g.C >= 16) {
    // Stride 1: dX is a convolution of dY (padded by K-1-p) with the flipped, transposed weights, so it runs on
    // the implicit GEMM like a forward pass: no dP matrix, no col2im.
    const transposed = convGeometry(dy.shape, [g.C, g.KH, g.KW, g.Cout], { stride: 1, padding: g.KH - 1 - g.pad });
    if (implicitFits(rt, transposed)) {
      convForwardImplicit(dy, w, dx, transposed, options.kSteps ?? convKSteps(rt), true);
      return dx;
    }
  }
  if (variant === 'tiled' && tiledFits(rt, dy, w, dx)) {
    tiledConv(rt, 'conv_dx_tiled', dy, w, dx, tiledDims(g, g.N * g.H * g.W, g.C, g.KH * g.KW * g.Cout));
    return dx;
  }
  const weight = flatView(w, g.Cout, g.K);
  const dyRows = flatView(dy, g.M, g.Cout);
  const perImage = g.Ho * g.Wo;
  const slabImages = imagesPerSlab(rt, perImage * g.K * 4, g.N);
  for (let n0 = 0; n0 < g.N; n0 += slabImages) {
    const images = Math.min(slabImages, g.N - n0);
    const rows = images * perImage;
    const dP = Tensor.empty(rt, [rows, g.K]);
    if (isTextureDesign(variant)) {
      textureGemm(rt, variant, denseSource(dyRows, rows, g.Cout, { rowOffset: n0 * perImage }), denseSource(weight, g.Cout, g.K), dP.binding());
    } else {
      const dySlab = images === g.N ? dyRows : copy(dyRows, Tensor.empty(rt, [rows, g.Cout]), rows * g.Cout, n0 * perImage * g.Cout, 0);
      const product = matmul(dySlab, weight, { variant });
      copy(product, dP);
      product.dispose();
      if (dySlab !== dyRows) dySlab.dispose();
    }
    // Channels as vec4s when they come in fours: C, K and the first dx element are then counted in vec4s.
    const w = widthFor(g.C % 4 === 0);
    const slab = { ...g, N: images, C: g.C / w.width, K: g.K / w.width };
    rt.launch({
      shader: 'conv', entry: `col2im${w.suffix}`, ...widthBindings(w, { dcols: [dP, dP.size], dx: [dx, dx.size] }),
      uniforms: convUniforms(slab, { total: images * g.H * g.W * g.C, m0: n0 * g.H * g.W * g.C / w.width }), invocations: [slab.C, g.W, images * g.H],
    });
    dP.dispose();
  }
  return dx;
}

/**
 * dw[Cout, KH, KW, C] = dY^T . P. The reduction over all N*Ho*Wo patch rows is split into fixed chunks (each a
 * GEMM of its own) and the partial products are added in chunk order: deterministic, and each GEMM's operands
 * fit the texture limit.
 */
export function conv2dBackwardWeight(dy: Tensor, x: Tensor, wShape: readonly number[], options: ConvOptions = {}, padded: PaddedInput | null = null): Tensor {
  const rt = dy.rt;
  const g = convGeometry(x.shape, wShape, options);
  checkGradShape(dy, g);
  const live = liveTaps(g);
  // The cropped taps' gradient, then the dead taps' zeros around it.
  if (live) return rt.scope(() => tapBox(conv2dBackwardWeight(dy, x, [g.Cout, live.KH, live.KW, g.C], { ...options, padding: live.pad }, padded), wShape, live, true));
  const variant = options.variant ?? defaultMatmulVariant(rt);
  if (variant === 'subgroup' && implicitFits(rt, g)) return convWeightGradImplicit(dy, x, g, wShape, padded, options.kSteps ?? convKSteps(rt));
  if (variant === 'tiled' && tiledFits(rt, dy, x, Math.min(TARGET_WORKGROUPS, g.M) * g.Cout * g.K)) return convWeightGradTiled(dy, x, g, wShape);
  const dyRows = flatView(dy, g.M, g.Cout);
  const chunk = weightGradChunk(rt, variant, g);
  let total: Tensor | null = null;
  for (let m0 = 0; m0 < g.M; m0 += chunk) {
    const rows = Math.min(chunk, g.M - m0);
    let part: Tensor;
    if (isTextureDesign(variant)) {
      part = Tensor.empty(rt, [g.Cout, g.K]);
      textureGemm(rt, variant, denseSource(dyRows, g.Cout, rows, { trans: true, ld: g.Cout, colOffset: m0 }), patchSource(x, g, m0, rows), part.binding());
    } else {
      const cols = patchRows(x, g, m0, rows);
      const dyChunk = copy(dyRows, Tensor.empty(rt, [rows, g.Cout]), rows * g.Cout, m0 * g.Cout, 0);
      part = matmul(dyChunk, cols, { transA: true, variant });
      cols.dispose(); dyChunk.dispose();
    }
    total = addInOrder(total, part);
  }
  return total!.takeAs(wShape);
}

/** Chunk of patch rows per weight-gradient GEMM: the texture limit for texel designs, ~64 MiB of patches otherwise. */
function weightGradChunk(rt: Runtime, variant: MatmulVariant, g: ConvGeometry): number {
  if (!isTextureDesign(variant)) return bufferSlabRows(g);
  const max = rt.ctx.limits.maxTextureDimension2D ?? 8192;
  return Math.floor(max / SLAB_ALIGN) * SLAB_ALIGN;
}

/** db[Cout] = sum of dy over every output pixel. */
export function conv2dBackwardBias(dy: Tensor): Tensor {
  if (dy.shape.length !== 4) throw new Error(`conv2d bias gradient: dy must be NHWC [N, Ho, Wo, Cout], got [${dy.shape}]`);
  const [N, Ho, Wo, Cout] = dy.shape;
  const rows = flatView(dy, N * Ho * Wo, Cout);
  return sum(rows, 0);
}

function checkGradShape(dy: Tensor, g: ConvGeometry): void {
  const want = [g.N, g.Ho, g.Wo, g.Cout];
  if (dy.shape.join() !== want.join()) throw new Error(`conv2d backward: dy is [${dy.shape}] but the forward produced [${want}]`);
}

/** PyTorch's OIHW weight layout to ours (OHWI), on the CPU (checkpoints, imports). */
export function oihwToOhwi(data: ArrayLike<number>, [O, I, KH, KW]: readonly number[]): Float32Array {
  const out = new Float32Array(O * I * KH * KW);
  for (let o = 0; o < O; o++) for (let i = 0; i < I; i++) for (let h = 0; h < KH; h++) for (let w = 0; w < KW; w++) {
    out[((o * KH + h) * KW + w) * I + i] = data[((o * I + i) * KH + h) * KW + w];
  }
  return out;
}

/** Ours (OHWI) to PyTorch's OIHW; `shape` is the OIHW shape. */
export function ohwiToOihw(data: ArrayLike<number>, [O, I, KH, KW]: readonly number[]): Float32Array {
  const out = new Float32Array(O * I * KH * KW);
  for (let o = 0; o < O; o++) for (let i = 0; i < I; i++) for (let h = 0; h < KH; h++) for (let w = 0; w < KW; w++) {
    out[((o * I + i) * KH + h) * KW + w] = data[((o * KH + h) * KW + w) * I + i];
  }
  return out;
}
