// conv2d forward, input gradient and weight gradient against the direct-loop float64 reference, on every GEMM
// design. Tolerance per output: the worst-case rounding of its dot product, n * eps * sum|a_k b_k| (Higham's
// gamma_n), where n counts the products summed in sequence (the kernels add in order, in f32).
// That worst case grows with n and sits far above real errors (34,000x on the 19,208-row weight gradient, where
// dropping a whole chunk of rows passed), so the exact cases carry the sensitivity: small integers whose every
// product and partial sum is an integer below 2^24, exact in f32 in any order, so any error at all is a bug.
import { Tensor } from '../tensor.ts';
import { F32_EPS } from '../reference/compare.ts';
import { conv2d, conv2dBackwardBias, conv2dBackwardInput, conv2dBackwardWeight, convGeometry, type ConvGeometry } from '../ops/conv.ts';
import { convBackwardBiasReference, convBackwardInputReference, convBackwardWeightReference, convForwardReference } from '../reference/conv.ts';
import type { KSteps, MatmulVariant } from '../ops/matmul.ts';
import { define, inputs, joinOutputs, take, withinBounds, type ValidationCase } from './define.ts';

export interface ConvCase { N: number; H: number; W: number; C: number; Cout: number; k: number; stride: number; pad: number; bias?: boolean; exact?: boolean }

export const CONV_CASES: ConvCase[] = [
  { N: 1, H: 1, W: 1, C: 1, Cout: 1, k: 1, stride: 1, pad: 0 },
  { N: 1, H: 7, W: 7, C: 3, Cout: 5, k: 3, stride: 2, pad: 1, bias: true },
  { N: 2, H: 5, W: 6, C: 5, Cout: 4, k: 3, stride: 1, pad: 1 },
  { N: 2, H: 13, W: 11, C: 3, Cout: 8, k: 7, stride: 2, pad: 3 },
  { N: 3, H: 9, W: 9, C: 8, Cout: 16, k: 1, stride: 2, pad: 0 },
  { N: 2, H: 6, W: 6, C: 64, Cout: 64, k: 3, stride: 1, pad: 1 },
  { N: 1, H: 8, W: 10, C: 4, Cout: 3, k: 3, stride: 2, pad: 0 },
  { N: 2, H: 5, W: 5, C: 16, Cout: 32, k: 1, stride: 1, pad: 0 },
  // Taps that only ever meet padding are cropped (ops/conv.ts liveTaps): a 3x3 on a 1x1 map runs as its centre
  // tap, a 3x3/2 on a 2x2 map as its lower-right 2x2 box; the weight gradient of the dead taps must come back 0.
  { N: 3, H: 1, W: 1, C: 8, Cout: 16, k: 3, stride: 1, pad: 1 },
  { N: 2, H: 2, W: 2, C: 16, Cout: 8, k: 3, stride: 2, pad: 1, exact: true },
  // The same with channels that are not a multiple of 4: the taps are copied as floats, not vec4s.
  { N: 2, H: 1, W: 1, C: 5, Cout: 3, k: 3, stride: 1, pad: 1, exact: true },
  // More patch rows than a texture holds (16,384): slabs for the forward, chunks for the weight gradient.
  { N: 2, H: 100, W: 100, C: 1, Cout: 2, k: 3, stride: 1, pad: 0 },
  // Exact: M = 3 * 79 * 79 = 18,723 patch rows (odd, so no chunk size divides it: the last chunk is partial on
  // every design that chunks), the widest K (576) and a strided 7x7 with bias. Integers in [-3, 3]: the largest
  // partial sum, 9 * 18,723 = 168,507 (dw) or 9 * 576 (forward), stays far below 2^24.
  { N: 3, H: 81, W: 81, C: 1, Cout: 2, k: 3, stride: 1, pad: 0, exact: true },
  { N: 2, H: 6, W: 6, C: 64, Cout: 64, k: 3, stride: 1, pad: 1, exact: true },
  // Output widths that are multiples of 4 (the subgroup weight gradient walks 4 patch rows at a time there): one
  // chunk, a strided one, and M = 5 * 40 * 44 = 8,800 rows in several chunks with a partial last one (largest
  // partial sum 9 * 8,800, exact in f32).
  { N: 3, H: 8, W: 12, C: 8, Cout: 8, k: 3, stride: 1, pad: 1, exact: true },
  { N: 2, H: 16, W: 15, C: 8, Cout: 16, k: 3, stride: 2, pad: 1 },
  { N: 5, H: 40, W: 44, C: 4, Cout: 4, k: 3, stride: 1, pad: 1, exact: true },
  // Channels that round up to a multiple of 64 without being one (the subgroup forward's 32 x 64 tile, padded
  // columns), for the forward and, through the flipped weights, the input gradient; 105 patch rows, not a
  // multiple of the tile's 32.
  { N: 3, H: 7, W: 5, C: 40, Cout: 40, k: 3, stride: 1, pad: 1, exact: true },
  // 64 channels (the subgroup weight gradient's 32 x 64 tile) with Wo % 4 == 0, and 40 output channels: two row
  // blocks of 32, the second mostly padding.
  { N: 2, H: 8, W: 8, C: 64, Cout: 40, k: 3, stride: 1, pad: 1, exact: true },
  { N: 2, H: 13, W: 11, C: 3, Cout: 8, k: 7, stride: 2, pad: 3, bias: true, exact: true },
  // W * C a multiple of 64: the subgroup design copies the input into its padded texture (one copy without padding;
  // per image, with a border two pixels wide zeroed, for the 5x5; the input gradient pads dy the same way).
  { N: 3, H: 4, W: 4, C: 16, Cout: 8, k: 1, stride: 2, pad: 0, exact: true },
  { N: 3, H: 4, W: 8, C: 8, Cout: 16, k: 5, stride: 1, pad: 2, exact: true },
  // Output channels in 64s and KH * KW * C in 64s: the subgroup forward copies the OHWI weights into its texture
  // as they are and reads them transposed (conv_fwdT32x8): two column blocks and 72 patch rows (a partial row
  // block); a strided 1x1 with 50.
  { N: 3, H: 5, W: 7, C: 16, Cout: 128, k: 2, stride: 1, pad: 0, exact: true },
  { N: 2, H: 9, W: 9, C: 64, Cout: 64, k: 1, stride: 2, pad: 0 },
  // The CIFAR stem: RGB in, 64 channels out, KH * KW * C4 = 9 texel columns, odd, so the forward keeps one k step
  // per iteration wherever two are tuned.
  { N: 2, H: 8, W: 8, C: 3, Cout: 64, k: 3, stride: 1, pad: 1, exact: true },
];

const abs = (a: ArrayLike<number>) => Float64Array.from(a as ArrayLike<number>, Math.abs);
const scaled = (a: ArrayLike<number>, s: number) => Float64Array.from(a as ArrayLike<number>, (v) => v * s);

function label(c: ConvCase): string {
  return `${c.N}x${c.H}x${c.W}x${c.C} k${c.k} s${c.stride} p${c.pad} -> ${c.Cout}${c.bias ? ' +bias' : ''}${c.exact ? ' exact ints' : ''}`;
}

const EXACT_RANGE = 3;

/** Uniform inputs, or for an exact case integers in [-3, 3]. */
function values(c: ConvCase, n: number): Float32Array {
  const u = inputs(n);
  return c.exact ? u.map((v) => Math.round(v * EXACT_RANGE)) : u;
}

/** The rounding bound, or none at all where every operation is exact. */
const bounded = (c: ConvCase, bound: Float64Array) => (c.exact ? bound.fill(0) : bound);

function setup(c: ConvCase): { g: ConvGeometry; x: Float32Array; w: Float32Array; dy: Float32Array } {
  const g = convGeometry([c.N, c.H, c.W, c.C], [c.Cout, c.k, c.k, c.C], { stride: c.stride, padding: c.pad });
  return { g, x: values(c, c.N * c.H * c.W * c.C), w: values(c, c.Cout * c.k * c.k * c.C), dy: values(c, g.M * g.Cout) };
}

/**
 * Every design; the subgroup one twice, with 1 and 2 k steps per loop iteration (`saln tune` picks one per machine,
 * so both are checked wherever they run), the second on the cases whose kernels have a 2-step variant (the 32 x 64
 * tiles: 64-column blocks of output or weight-gradient columns).
 */
interface Design { variant: MatmulVariant; kSteps: KSteps; name: string }

function designs(variants: readonly MatmulVariant[]): Design[] {
  return variants.flatMap((variant): Design[] => variant === 'subgroup'
    ? [{ variant, kSteps: 1, name: 'subgroup' }, { variant, kSteps: 2, name: 'subgroup k2' }]
    : [{ variant, kSteps: 1, name: variant }]);
}

/**
 * Whether a case reaches a 32 x 64 subgroup tile: the forward's Cout or the input gradient's C (each rounded up to 32)
 * in 64s, or the weight gradient's KH * KW * C (C rounded up to 4) in 64s.
 */
const wideTile = (c: ConvCase) => Math.ceil(c.Cout / 32) % 2 === 0 || Math.ceil(c.C / 32) % 2 === 0 || (c.k * c.k * Math.ceil(c.C / 4) * 4) % 64 === 0;

export function convCases(variants: readonly MatmulVariant[]): ValidationCase[] {
  const cases: ValidationCase[] = [];
  for (const { variant, kSteps, name } of designs(variants)) {
    for (const c of CONV_CASES) {
      if (kSteps === 2 && !wideTile(c)) continue;
      const opts = { stride: c.stride, padding: c.pad, variant, kSteps };
      cases.push(define('conv2d.forward', `${name} ${label(c)}`, async (rt) => {
        const { g, x, w } = setup(c);
        const bias = c.bias ? values(c, c.Cout) : null;
        const tx = Tensor.upload(rt, x, [c.N, c.H, c.W, c.C]), tw = Tensor.upload(rt, w, [c.Cout, c.k, c.k, c.C]);
        const tb = bias ? Tensor.upload(rt, bias) : null;
        const got = await take(conv2d(tx, tw, tb, opts));
        // K products in sequence, then the bias add (one more rounding).
        const bound = bounded(c, scaled(convForwardReference(abs(x), abs(w), bias ? abs(bias) : null, g), (g.K + 1) * F32_EPS));
        return withinBounds(got, convForwardReference(x, w, bias, g), bound);
      }));
      cases.push(define('conv2d.dx', `${name} ${label(c)}`, async (rt) => {
        const { g, w, dy } = setup(c);
        const tdy = Tensor.upload(rt, dy, [g.N, g.Ho, g.Wo, g.Cout]), tw = Tensor.upload(rt, w, [c.Cout, c.k, c.k, c.C]);
        const got = await take(conv2dBackwardInput(tdy, tw, [c.N, c.H, c.W, c.C], opts));
        // Either Cout products per tap column and up to KH*KW taps summed by col2im, or (stride 1 on the implicit
        // GEMM) one sequential sum over all KH*KW*Cout products: the longer chain bounds both.
        const chain = Math.max(g.Cout + g.KH * g.KW, g.KH * g.KW * Math.ceil(g.Cout / 4) * 4);
        const bound = bounded(c, scaled(convBackwardInputReference(abs(dy), abs(w), g), chain * F32_EPS));
        return withinBounds(got, convBackwardInputReference(dy, w, g), bound);
      }));
      cases.push(define('conv2d.dw', `${name} ${label(c)}`, async (rt) => {
        const { g, x, dy } = setup(c);
        const tdy = Tensor.upload(rt, dy, [g.N, g.Ho, g.Wo, g.Cout]), tx = Tensor.upload(rt, x, [c.N, c.H, c.W, c.C]);
        const got = await take(conv2dBackwardWeight(tdy, tx, [c.Cout, c.k, c.k, c.C], opts));
        const gotBias = c.bias ? await take(conv2dBackwardBias(tdy)) : null;
        // M = N*Ho*Wo products summed per weight (chunk by chunk, in order).
        const parts = [withinBounds(got, convBackwardWeightReference(dy, x, g), bounded(c, scaled(convBackwardWeightReference(abs(dy), abs(x), g), g.M * F32_EPS)))];
        if (gotBias) parts.push(withinBounds(gotBias, convBackwardBiasReference(dy, g), bounded(c, scaled(convBackwardBiasReference(abs(dy), g), g.M * F32_EPS))));
        return parts.length === 1 ? parts[0] : joinOutputs(parts);
      }));
    }
  }
  return cases;
}
