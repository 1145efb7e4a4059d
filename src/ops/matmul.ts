// Batched matmul with optional transposes. Picks a kernel design per adapter (see shaders/matmul.wgsl).
import { Tensor } from '../tensor.ts';
import type { Runtime } from '../gpu/runtime.ts';
import { fill } from './fill.ts';
import { readTuning } from './tuning-cache.ts';

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
  const env = process.env.SALN_MATMUL as MatmulVariant | undefined;
  if (env) {
    if (!MATMUL_VARIANTS.includes(env)) throw new Error(`SALN_MATMUL=${env} is not one of ${MATMUL_VARIANTS.join(', ')}`);
    return env;
  }
  let variant = chosen.get(rt);
  if (!variant) {
    // A design measured on this adapter earlier (`saln tune`, or the first training/bench run) wins.
    const cached = readTuning()[rt.ctx.adapterKey]?.variant as MatmulVariant | undefined;
    variant = cached && availableMatmulVariants(rt).includes(cached) ? cached
      : isSoftwareAdapter(rt) ? (hasSubgroupsOf8(rt) ? 'subgroup' : 'texture') : 'tiled';
    chosen.set(rt, variant);
  }
  return variant;
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

export function isSoftwareAdapter(rt: Runtime): boolean {
  const { architecture, description, device } = rt.ctx.info;
  return /llvmpipe|lavapipe|swiftshader|software/i.test(`${architecture} ${description} ${device}`);
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
    case 'texture': case 'subgroup': runTexture(rt, TEXTURE_KERNELS[variant], a, b, out, p, transA, transB); break;
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
    workgroups: [Math.ceil(p.N / 64), Math.ceil(p.M / 64), p.batch],
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
    uniforms: { rows, cols, rowsPadded, colsPadded, trans: trans ? 1 : 0, srcStride: rows * cols, batch },
    workgroups: Math.ceil(texels / 64),
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
  const lanes = variant === 'regtile' ? 16 : 64;
  // Fault injection for the test that proves `saln validate` catches a wrong kernel: a K extent one step short.
  const kSteps = process.env.SALN_FAULT === 'matmul-drop-k' ? Kp - 4 : Kp;
  rt.launch({
    shader: 'matmul', entry: variant,
    bindings: { a4, b4, c: out },
    needs: { a4: p.batchA * p.M * Kp / 4, b4: p.batchB * Kp * Np / 4, c: out.size },
    uniforms: {
      ...baseUniforms(p), Kp: kSteps, Np, tilesN, tilesM,
      strideA: p.batchA === 1 ? 0 : p.M * Kp, strideB: p.batchB === 1 ? 0 : Kp * Np,
    },
    workgroups: [Math.ceil(tilesM * tilesN / lanes), 1, p.batch],
  });
  if (packA) a4.dispose();
  if (packB) b4.dispose();
}

interface TextureKernel {
  shader: string;
  /** Entry point and rows per tile; the first whose rows fit M without more than 2x padding is used. */
  entries: { entry: string; tileM: number }[];
  tileN: number;
  /** Tiles one workgroup computes (invocations per tile differ by design). */
  tilesPerWorkgroup: number;
}

const TEXTURE_KERNELS: Record<'texture' | 'subgroup', TextureKernel> = {
  texture: { shader: 'matmul', entries: [{ entry: 'texture16x8', tileM: 16 }], tileN: 8, tilesPerWorkgroup: 64 },
  subgroup: {
    shader: 'matmul_subgroup',
    entries: [{ entry: 'texture_sg64x4', tileM: 64 }, { entry: 'texture_sg32x4', tileM: 32 }],
    tileN: 32, tilesPerWorkgroup: 8,
  },
};

function pickEntry(kernel: TextureKernel, M: number) {
  return kernel.entries.find((e) => e.tileM <= 2 * M) ?? kernel.entries[kernel.entries.length - 1];
}

function textureFits(rt: Runtime, p: Problem, kernel: TextureKernel): boolean {
  const max = rt.ctx.limits.maxTextureDimension2D ?? 8192;
  const Kp = roundUp(p.K, 4);
  const { tileM } = pickEntry(kernel, p.M);
  return roundUp(p.N, kernel.tileN) / 4 <= max && Kp / 4 <= max &&
    p.batchA * roundUp(p.M, tileM) <= max && p.batchB * Kp <= max;
}

/**
 * Brings an operand into an rgba32f texture (batches stacked vertically), transposed and zero-padded by a
 * pack kernel, or by a plain copy when the layout already matches (rows of 256-byte multiples, no transpose,
 * no column padding). `spareRowsIgnored`: rows past `rows` only feed outputs that are never stored, so a copy
 * may leave them stale.
 */
function packToTexture(rt: Runtime, src: Tensor, rows: number, cols: number, rowsPadded: number, colsPadded: number, trans: boolean, batch: number, spareRowsIgnored: boolean): GPUTexture {
  const texture = rt.textures.acquire(colsPadded / 4, batch * rowsPadded);
  const rowsMatch = rows === rowsPadded || (batch === 1 && spareRowsIgnored);
  if (!trans && cols === colsPadded && (cols * 4) % 256 === 0 && rowsMatch) {
    rt.commandEncoder().copyBufferToTexture(
      { buffer: src.buffer, bytesPerRow: cols * 4, rowsPerImage: rows * batch },
      { texture }, [cols / 4, rows * batch],
    );
    return texture;
  }
  const texels = batch * rowsPadded * colsPadded / 4;
  rt.launch({
    shader: 'matmul_pack', entry: 'to_texture',
    bindings: { src, dstTex: texture.createView() },
    needs: { src: batch * rows * cols },
    uniforms: { rows, cols, rowsPadded, colsPadded, trans: trans ? 1 : 0, srcStride: rows * cols, batch },
    workgroups: Math.ceil(texels / 64),
  });
  return texture;
}

function runTexture(rt: Runtime, kernel: TextureKernel, a: Tensor, b: Tensor, out: Tensor, p: Problem, transA: boolean, transB: boolean) {
  const { entry, tileM } = pickEntry(kernel, p.M);
  const Kp = roundUp(p.K, 4);
  const Mp = roundUp(p.M, tileM);
  const Np = roundUp(p.N, kernel.tileN);
  const aTex = packToTexture(rt, a, p.M, p.K, Mp, Kp, transA, p.batchA, true);
  const bTex = packToTexture(rt, b, p.K, p.N, Kp, Np, transB, p.batchB, false);
  const tilesM = Mp / tileM;
  const tilesN = Np / kernel.tileN;
  rt.launch({
    shader: kernel.shader, entry,
    bindings: { aTex: aTex.createView(), bTex: bTex.createView(), c: out },
    needs: { c: out.size },
    uniforms: {
      ...baseUniforms(p), Kp, Np, tilesN, tilesM,
      // Texture rows per batch; 0 reads a broadcast operand's single batch every time.
      strideA: p.batchA === 1 ? 0 : Mp, strideB: p.batchB === 1 ? 0 : Kp,
    },
    workgroups: [Math.ceil(tilesM * tilesN / kernel.tilesPerWorkgroup), 1, p.batch],
  });
  rt.textures.release(aTex);
  rt.textures.release(bTex);
}
