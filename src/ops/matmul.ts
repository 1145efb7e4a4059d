// Batched matmul with optional transposes. Picks a kernel design per adapter (see shaders/matmul.wgsl).
import { Tensor } from '../tensor.ts';
import { Runtime, type Grid } from '../gpu/runtime.ts';
import { fill } from './fill.ts';
import { readTuning } from './tuning-cache.ts';
import { settings } from '../util/settings.ts';

export const MATMUL_VARIANTS = ['tiled', 'regtile', 'naive', 'texture', 'subgroup'] as const;
export type MatmulVariant = (typeof MATMUL_VARIANTS)[number];

export interface MatmulOptions {
  transA?: boolean;
  transB?: boolean;
  /** Force a kernel design (tests, benchmarks); default: the one tuned for this adapter. */
  variant?: MatmulVariant;
}

const chosen = new WeakMap<Runtime, MatmulVariant>();

/** Sets the design `matmul` uses on this runtime (the tuner calls it). */
export function setMatmulVariant(rt: Runtime, variant: MatmulVariant): void {
  chosen.set(rt, variant);
}

/** Before tuning: llvmpipe's vectorized texel path wins on lavapipe, workgroup tiles on real GPUs. */
export function defaultMatmulVariant(rt: Runtime): MatmulVariant {
  const env = settings.matmul as MatmulVariant | undefined;
  if (env) {
    if (!MATMUL_VARIANTS.includes(env)) throw new Error(`SALN_MATMUL=${env} is not one of ${MATMUL_VARIANTS.join(', ')}`);
    return env;
  }
  let variant = chosen.get(rt);
  if (!variant) {
    // A design measured on this adapter earlier (`saln tune`, or the first training/bench run) wins.
    const cached = readTuning()[rt.ctx.adapterKey]?.variant as MatmulVariant | undefined;
    variant = cached && availableMatmulVariants(rt).includes(cached) ? cached
      : rt.ctx.software ? (hasSubgroupsOf8(rt) ? 'subgroup' : 'texture') : 'tiled';
    chosen.set(rt, variant);
  }
  return variant;
}

/** k steps (of 4) per loop iteration in the subgroup convs: see kSteps in src/gpu/subgroup-gemm.ts. */
export type KSteps = 1 | 2;

const chosenKSteps = new WeakMap<Runtime, KSteps>();

/** Sets the subgroup convs' k steps per iteration on this runtime (the tuner calls it). */
export function setConvKSteps(rt: Runtime, kSteps: KSteps): void {
  chosenKSteps.set(rt, kSteps);
}

/** SALN_KSTEPS, else what the tuner set or cached for this adapter, else 1. */
export function convKSteps(rt: Runtime): KSteps {
  if (settings.kSteps) {
    if (settings.kSteps !== '1' && settings.kSteps !== '2') throw new Error(`SALN_KSTEPS=${settings.kSteps} is not 1 or 2`);
    return settings.kSteps === '2' ? 2 : 1;
  }
  let kSteps = chosenKSteps.get(rt);
  if (!kSteps) {
    kSteps = readTuning()[rt.ctx.adapterKey]?.kSteps === 2 ? 2 : 1;
    chosenKSteps.set(rt, kSteps);
  }
  return kSteps;
}

/** The subgroup design hard-codes 8-lane subgroups (llvmpipe at 256 bits). */
export function hasSubgroupsOf8(rt: Runtime): boolean {
  const [min, max] = rt.ctx.subgroupSizes;
  return min === 8 && max === 8;
}

/** Designs this adapter can run (the subgroup one needs 8-lane subgroups). */
export function availableMatmulVariants(rt: Runtime): MatmulVariant[] {
  return MATMUL_VARIANTS.filter((v) => v !== 'subgroup' || hasSubgroupsOf8(rt));
}

interface Problem {
  M: number; N: number; K: number;
  batch: number; batchA: number; batchB: number;
  outShape: number[];
}

function problem(a: Tensor, b: Tensor, transA: boolean, transB: boolean): Problem {
  if (a.shape.length < 2 || b.shape.length < 2) throw new Error(`matmul needs operands of rank >= 2, got [${a.shape}] and [${b.shape}]`);
  const [ar, ac] = a.shape.slice(-2);
  const [br, bc] = b.shape.slice(-2);
  const [M, K] = transA ? [ac, ar] : [ar, ac];
  const [K2, N] = transB ? [bc, br] : [br, bc];
  if (K !== K2) throw new Error(`matmul: inner dimensions differ: A is [${a.shape}]${transA ? '^T' : ''}, B is [${b.shape}]${transB ? '^T' : ''}`);
  const batchDimsA = a.shape.slice(0, -2);
  const batchDimsB = b.shape.slice(0, -2);
  const batchA = batchDimsA.reduce((x, y) => x * y, 1);
  const batchB = batchDimsB.reduce((x, y) => x * y, 1);
  if (batchA !== batchB && batchA !== 1 && batchB !== 1) {
    throw new Error(`matmul: batch dimensions [${batchDimsA}] and [${batchDimsB}] do not match (one may be 1)`);
  }
  const batchDims = batchA >= batchB ? batchDimsA : batchDimsB;
  return { M, N, K, batch: Math.max(batchA, batchB), batchA, batchB, outShape: [...batchDims, M, N] };
}

const roundUp = (x: number, m: number) => Math.ceil(x / m) * m;

export function matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  const rt = a.rt;
  const transA = options.transA ?? false;
  const transB = options.transB ?? false;
  const p = problem(a, b, transA, transB);
  const out = Tensor.empty(rt, p.outShape);
  if (out.size === 0) return out;
  if (p.K === 0) { fill(out, 0); return out; }
  let variant = options.variant ?? defaultMatmulVariant(rt);
  if (variant === 'subgroup' && !hasSubgroupsOf8(rt)) variant = 'texture';
  if ((variant === 'texture' || variant === 'subgroup') && !textureFits(rt, p, TEXTURE_KERNELS[variant])) variant = 'regtile';
  switch (variant) {
    case 'tiled': runTiled(rt, a, b, out, p, transA, transB); break;
    case 'texture': case 'subgroup': runTexture(rt, variant, a, b, out, p, transA, transB); break;
    default: runPacked(rt, variant, a, b, out, p, transA, transB);
  }
  return out;
}

function baseUniforms(p: Problem) {
  return {
    M: p.M, N: p.N, K: p.K, strideC: p.M * p.N, transA: 0, transB: 0,
  };
}

function runTiled(rt: Runtime, a: Tensor, b: Tensor, out: Tensor, p: Problem, transA: boolean, transB: boolean) {
  rt.launch({
    shader: 'matmul', entry: 'tiled',
    bindings: { a, b, c: out },
    needs: { a: p.batchA * p.M * p.K, b: p.batchB * p.K * p.N, c: out.size },
    uniforms: {
      ...baseUniforms(p), Kp: p.K, Np: p.N, tilesN: Math.ceil(p.N / 64), tilesM: Math.ceil(p.M / 64),
      strideA: p.batchA === 1 ? 0 : p.M * p.K, strideB: p.batchB === 1 ? 0 : p.K * p.N,
      transA: transA ? 1 : 0, transB: transB ? 1 : 0,
    },
    // One invocation per 4x4 block of C.
    invocations: [Math.ceil(p.N / 4), Math.ceil(p.M / 4), p.batch],
  });
}

/** Packs an operand (transpose + zero padding) into a buffer of vec4 rows. */
function packToBuffer(rt: Runtime, src: Tensor, rows: number, cols: number, rowsPadded: number, colsPadded: number, trans: boolean, batch: number): Tensor {
  const packed = Tensor.empty(rt, [batch, rowsPadded, colsPadded]);
  const texels = batch * rowsPadded * colsPadded / 4;
  rt.launch({
    shader: 'matmul_pack', entry: 'to_buffer',
    bindings: { src, dst: packed },
    needs: { src: batch * rows * cols, dst: texels },
    uniforms: { rows, cols, rowsPadded, colsPadded, trans: trans ? 1 : 0, srcStride: rows * cols, batch, srcLd: trans ? rows : cols, rowOffset: 0, colOffset: 0, srcLimit: batch * rows * cols, lanes: 0 },
    invocations: texels,
  });
  return packed;
}

function runPacked(rt: Runtime, variant: 'regtile' | 'naive', a: Tensor, b: Tensor, out: Tensor, p: Problem, transA: boolean, transB: boolean) {
  const Kp = roundUp(p.K, 4);
  const Np = roundUp(p.N, variant === 'regtile' ? 8 : 4);
  // Only operands whose layout the kernel cannot read directly are packed.
  const packA = transA || Kp !== p.K;
  const packB = transB || Kp !== p.K || Np !== p.N;
  const a4 = packA ? packToBuffer(rt, a, p.M, p.K, p.M, Kp, transA, p.batchA) : a;
  const b4 = packB ? packToBuffer(rt, b, p.K, p.N, Kp, Np, transB, p.batchB) : b;
  const rowsPerTile = variant === 'regtile' ? 4 : 1;
  const tilesM = Math.ceil(p.M / rowsPerTile);
  const tilesN = Np / (variant === 'regtile' ? 8 : 4);
  rt.launch({
    shader: 'matmul', entry: variant,
    bindings: { a4, b4, c: out },
    needs: { a4: p.batchA * p.M * Kp / 4, b4: p.batchB * Kp * Np / 4, c: out.size },
    uniforms: {
      ...baseUniforms(p), Kp, Np, tilesN, tilesM,
      strideA: p.batchA === 1 ? 0 : p.M * Kp, strideB: p.batchB === 1 ? 0 : Kp * Np,
    },
    invocations: [tilesM * tilesN, 1, p.batch],
  });
  if (packA) a4.dispose();
  if (packB) b4.dispose();
}

export type TextureDesign = 'texture' | 'subgroup';

interface TextureKernel {
  shader: string;
  /** Entry point and rows per tile; the first whose rows fit M without more than 2x padding is used. */
  entries: { entry: string; tileM: number }[];
  tileN: number;
  /** Tiles one workgroup computes (invocations per tile differ by design). */
  tilesPerWorkgroup: number;
  /** The workgroup size is the WG_LANES override (8 lanes per tile), shrunk for problems with few tiles. */
  sizedByTiles?: boolean;
}

const TEXTURE_KERNELS: Record<TextureDesign, TextureKernel> = {
  texture: { shader: 'matmul', entries: [{ entry: 'texture16x8', tileM: 16 }], tileN: 8, tilesPerWorkgroup: 64 },
  subgroup: {
    shader: 'matmul_subgroup',
    entries: [{ entry: 'texture_sg64x4', tileM: 64 }, { entry: 'texture_sg32x4', tileM: 32 }],
    tileN: 32, tilesPerWorkgroup: 8, sizedByTiles: true,
  },
};

/**
 * Workgroups and overrides for `tiles` output tiles of a subgroup kernel: one 8-lane subgroup per tile, up to 8
 * per workgroup. With fewer tiles the workgroup shrinks; the spare subgroups of a last, partial workgroup return
 * at once.
 */
export function subgroupGrid(tiles: number): { workgroups: number; lanes: number; overrides: { WG_LANES: number } } {
  const perWorkgroup = Math.max(1, Math.min(8, tiles));
  return { workgroups: Math.ceil(tiles / perWorkgroup), lanes: 8 * tiles, overrides: { WG_LANES: 8 * perWorkgroup } };
}

/** The launch grid of `tiles` output tiles (times `batch` in z): subgroup kernels by lanes, the others by workgroups. */
function tileGrid(kernel: TextureKernel, tiles: number, batch = 1): { overrides: Record<string, number>; invocations?: Grid; workgroups?: Grid } {
  if (!kernel.sizedByTiles) return { workgroups: [Math.ceil(tiles / kernel.tilesPerWorkgroup), 1, batch], overrides: {} };
  const { lanes, overrides } = subgroupGrid(tiles);
  return { invocations: [lanes, 1, batch], overrides };
}

/** Rows of A per texture slab: a multiple of 64 (so slab offsets stay 256-byte aligned) within the limit. */
export const SLAB_ALIGN = 64;

function pickEntry(kernel: TextureKernel, M: number) {
  return kernel.entries.find((e) => e.tileM <= 2 * M) ?? kernel.entries[kernel.entries.length - 1];
}

function maxTexture(rt: Runtime): number {
  return rt.ctx.limits.maxTextureDimension2D ?? 8192;
}

function textureFits(rt: Runtime, p: Problem, kernel: TextureKernel): boolean {
  const max = maxTexture(rt);
  const Kp = roundUp(p.K, 4);
  const { tileM } = pickEntry(kernel, p.M);
  if (roundUp(p.N, kernel.tileN) / 4 > max || Kp / 4 > max || p.batchB * Kp > max) return false;
  // A single product runs in row slabs of A, so only batched A must fit whole.
  return p.batch === 1 || p.batchA * roundUp(p.M, tileM) <= max;
}

/** A GEMM operand that can write a block of its rows into a texture (packed, transposed, gathered...). */
export interface TextureSource {
  rows: number;
  cols: number;
  /** Writes logical rows [r0, r0 + count) into texture rows [0, rowsPadded), columns zero-padded to colsPadded. */
  write(rt: Runtime, texture: GPUTexture, r0: number, count: number, rowsPadded: number, colsPadded: number): void;
}

/**
 * A dense operand: rows x cols of `src` (stored transposed when `trans`), optionally a window of a larger
 * matrix starting at (rowOffset, colOffset), with `ld` elements between stored rows.
 */
export function denseSource(src: Tensor, rows: number, cols: number, options: { trans?: boolean; ld?: number; rowOffset?: number; colOffset?: number } = {}): TextureSource {
  const trans = options.trans ?? false;
  const ld = options.ld ?? (trans ? rows : cols);
  const rowOffset = options.rowOffset ?? 0, colOffset = options.colOffset ?? 0;
  return {
    rows, cols,
    write(rt, texture, r0, count, rowsPadded, colsPadded) {
      const firstRow = rowOffset + r0;
      // A plain copy when rows are already laid out as texels: no transpose, no column window or padding, and
      // rows a copy accepts (Runtime.rowsCopyable). Rows past `count` keep stale texels: they only feed outputs
      // that are never stored.
      if (!trans && colOffset === 0 && ld === cols && cols === colsPadded && Runtime.rowsCopyable(src.byteOffset, cols * 4)) {
        rt.copyToTexture({ buffer: src.buffer, offset: src.byteOffset + firstRow * cols * 4, bytesPerRow: cols * 4 }, texture, [0, 0], [cols / 4, count]);
        return;
      }
      packStackToTexture(rt, texture, src, { rows: count, cols, rowsPadded, colsPadded, trans, ld, srcStride: 0, batch: 1, srcLimit: src.size, rowOffset: firstRow, colOffset });
    },
  };
}

/**
 * out[M, N] (a buffer range, row-major) = A[M, K] . B[K, N] with texel-reading kernels. A is processed in slabs
 * of rows that fit the texture size limit, so M is unbounded; B must fit whole (K and N/4 within the limit).
 */
export function textureGemm(rt: Runtime, design: TextureDesign, A: TextureSource, B: TextureSource, out: { buffer: GPUBuffer; offset?: number }): void {
  const kernel = TEXTURE_KERNELS[design];
  const M = A.rows, K = A.cols, N = B.cols;
  if (B.rows !== K) throw new Error(`textureGemm: A is ${M}x${K} but B is ${B.rows}x${N}`);
  const { entry, tileM } = pickEntry(kernel, M);
  const Kp = roundUp(K, 4);
  const Np = roundUp(N, kernel.tileN);
  const max = maxTexture(rt);
  if (Kp > max || Np / 4 > max || Kp / 4 > max) throw new Error(`textureGemm: K=${K}, N=${N} exceed the texture limit ${max}`);
  const bTex = rt.textures.acquire(Np / 4, Kp);
  B.write(rt, bTex, 0, K, Kp, Np);
  const slab = Math.floor(max / SLAB_ALIGN) * SLAB_ALIGN;
  const baseOffset = out.offset ?? 0;
  for (let m0 = 0; m0 < M; m0 += slab) {
    const rows = Math.min(slab, M - m0);
    const Mp = roundUp(rows, tileM);
    const aTex = rt.textures.acquire(Kp / 4, Mp);
    A.write(rt, aTex, m0, rows, Mp, Kp);
    const tilesM = Mp / tileM, tilesN = Np / kernel.tileN;
    rt.launch({
      shader: kernel.shader, entry, ...tileGrid(kernel, tilesM * tilesN),
      bindings: { aTex, bTex, c: { buffer: out.buffer, offset: baseOffset + m0 * N * 4, size: rows * N * 4 } },
      uniforms: { M: rows, N, K, Kp, Np, tilesN, tilesM, strideA: 0, strideB: 0, strideC: 0, transA: 0, transB: 0 },
    });
    rt.textures.release(aTex);
  }
  rt.textures.release(bTex);
}

/**
 * Packs `batch` stacked operands into one texture, batch b at texture rows [b * rowsPadded, ...): element (r, c)
 * of batch b is src[b * srcStride + (trans ? (c + colOffset) * ld + r : r * ld + c + colOffset)], zero at or
 * past `srcLimit`. `lanes`: each 8 stacked rows side by side instead (the subgroup GEMMs' 'lanes' operand).
 */
export function packStackToTexture(rt: Runtime, texture: GPUTexture, src: Tensor, p: { rows: number; cols: number; rowsPadded: number; colsPadded: number; trans: boolean; ld: number; srcStride: number; batch: number; srcLimit: number; colOffset?: number; rowOffset?: number; lanes?: boolean }): void {
  const colOffset = p.colOffset ?? 0, rowOffset = p.rowOffset ?? 0;
  if (p.lanes && p.rowsPadded % 8 !== 0) throw new Error(`packStackToTexture: the lanes layout needs rowsPadded % 8 == 0, not ${p.rowsPadded}`);
  const uniforms = { rows: p.rows, cols: p.cols, rowsPadded: p.rowsPadded, colsPadded: p.colsPadded, trans: p.trans ? 1 : 0, srcStride: p.srcStride, batch: p.batch, srcLd: p.ld, rowOffset, colOffset, srcLimit: p.srcLimit, lanes: p.lanes ? 1 : 0 };
  // Transposed sources whose stored rows are vec4-aligned move 4x4 blocks (a quarter of the loads).
  if (p.trans && p.ld % 4 === 0 && rowOffset % 4 === 0 && p.srcStride % 4 === 0 && p.rowsPadded % 4 === 0 && src.size % 4 === 0) {
    const blocks = p.batch * (p.rowsPadded / 4) * (p.colsPadded / 4);
    rt.launch({
      shader: 'matmul_pack', entry: 'to_texture_t4', bindings: { src4: src, dstTex: texture },
      needs: { src4: Math.ceil(Math.min(p.srcLimit, src.size) / 4) }, uniforms, invocations: blocks,
    });
    return;
  }
  const texels = p.batch * p.rowsPadded * p.colsPadded / 4;
  rt.launch({
    shader: 'matmul_pack', entry: 'to_texture',
    bindings: { src, dstTex: texture },
    needs: { src: Math.min(p.srcLimit, src.size) },
    uniforms, invocations: texels,
  });
}

/** Batched products: every batch of A and B is packed into one texture (batches stacked vertically). */
function packBatchToTexture(rt: Runtime, src: Tensor, rows: number, cols: number, rowsPadded: number, colsPadded: number, trans: boolean, batch: number): GPUTexture {
  const texture = rt.textures.acquire(colsPadded / 4, batch * rowsPadded);
  packStackToTexture(rt, texture, src, { rows, cols, rowsPadded, colsPadded, trans, ld: trans ? rows : cols, srcStride: rows * cols, batch, srcLimit: batch * rows * cols });
  return texture;
}

function runTexture(rt: Runtime, design: TextureDesign, a: Tensor, b: Tensor, out: Tensor, p: Problem, transA: boolean, transB: boolean) {
  if (p.batch === 1) {
    textureGemm(rt, design, denseSource(a, p.M, p.K, { trans: transA }), denseSource(b, p.K, p.N, { trans: transB }), out.binding());
    return;
  }
  const kernel = TEXTURE_KERNELS[design];
  const { entry, tileM } = pickEntry(kernel, p.M);
  const Kp = roundUp(p.K, 4);
  const Mp = roundUp(p.M, tileM);
  const Np = roundUp(p.N, kernel.tileN);
  const aTex = packBatchToTexture(rt, a, p.M, p.K, Mp, Kp, transA, p.batchA);
  const bTex = packBatchToTexture(rt, b, p.K, p.N, Kp, Np, transB, p.batchB);
  const tilesM = Mp / tileM;
  const tilesN = Np / kernel.tileN;
  rt.launch({
    shader: kernel.shader, entry, ...tileGrid(kernel, tilesM * tilesN, p.batch),
    bindings: { aTex, bTex, c: out },
    needs: { c: out.size },
    uniforms: {
      ...baseUniforms(p), Kp, Np, tilesN, tilesM,
      // Texture rows per batch; 0 reads a broadcast operand's single batch every time.
      strideA: p.batchA === 1 ? 0 : Mp, strideB: p.batchB === 1 ? 0 : Kp,
    },
  });
  rt.textures.release(aTex);
  rt.textures.release(bTex);
}
