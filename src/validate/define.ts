// The pieces every family of validation cases uses: a case definition, seeded inputs, downloads.
import type { Runtime } from '../gpu/runtime.ts';
import type { Tensor } from '../tensor.ts';
import { uniformArray } from '../rng.ts';
import { compare, type Comparison, type Tolerance } from '../reference/compare.ts';

export interface CaseResult extends Comparison {
  kernel: string;
  name: string;
  tolerance: Tolerance;
}

export interface ValidationCase {
  kernel: string;
  name: string;
  run(rt: Runtime): Promise<CaseResult>;
}

export interface CaseOutput {
  got: ArrayLike<number>;
  ref: ArrayLike<number>;
  tolerance: Tolerance;
}

export const HALF_ULP = 2 ** -24;

// Inputs come from a stream derived from the case's name, so one case reproduces alone (`--kernel`).
let inputStream = 0;

/** Seeded uniform f32 inputs in [low, high); successive calls in one case draw successive streams. */
export function inputs(n: number, low = -1, high = 1): Float32Array {
  return uniformArray(n, 7, inputStream++, low, high);
}

function nameHash(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619) >>> 0;
  return h * 16;
}

/**
 * A case: `body` runs the kernel and the reference. A case that checks several outputs (a backward pass: dx,
 * dgamma, dbeta) returns them concatenated, each already compared under its own tolerance by `joinOutputs`.
 */
export function define(kernel: string, name: string, body: (rt: Runtime) => Promise<CaseOutput>): ValidationCase {
  return {
    kernel, name,
    async run(rt) {
      inputStream = nameHash(`${kernel} ${name}`);
      // Every tensor the case creates is freed when it ends.
      const { got, ref, tolerance } = await rt.scope(() => body(rt));
      return { kernel, name, tolerance, ...compare(got, ref, tolerance) };
    },
  };
}

/** Downloads a tensor and disposes it. */
export async function take(t: Tensor): Promise<ArrayLike<number>> {
  const data = await t.download();
  t.dispose();
  return data;
}

/**
 * Several outputs (a backward's dx, dgamma, dbeta), each with its own tolerance, as one comparison: the parts
 * are concatenated and each element carries its own allowance, so the case passes exactly when every part
 * passes, and the reported errors stay in the outputs' own units.
 */
export function joinOutputs(parts: CaseOutput[]): CaseOutput {
  const got: number[] = [];
  const ref: number[] = [];
  const bound: number[] = [];
  for (const { got: g, ref: r, tolerance } of parts) {
    if (g.length !== r.length) return { got: [NaN], ref: [0], tolerance: { atol: 0, rtol: 0 } };
    for (let i = 0; i < r.length; i++) {
      got.push(g[i]);
      ref.push(r[i]);
      bound.push(tolerance.atol + tolerance.rtol * Math.abs(r[i]) + (tolerance.bound ? tolerance.bound[i] : 0));
    }
  }
  return { got, ref, tolerance: { atol: 0, rtol: 0, bound } };
}

/**
 * A per-element rounding bound as the tolerance: passes when |got_i - ref_i| <= bound_i for every i. Used where
 * the bound is the worst-case rounding of a dot product, |err| <= n * eps * sum|a_k b_k|, which differs per
 * output element.
 */
export function withinBounds(got: ArrayLike<number>, ref: ArrayLike<number>, bound: ArrayLike<number>): CaseOutput {
  return { got, ref, tolerance: { atol: 0, rtol: 0, bound } };
}

/** Integers in [-3, 3]: every product and every partial sum of the exact cases is an integer below 2^24. */
export function exactInts(n: number): Float32Array {
  return inputs(n).map((v) => Math.round(v * 3));
}

/** Higham's gamma_k: the relative error bound of k accumulated roundings. */
export const higham = (k: number) => (k * HALF_ULP) / (1 - k * HALF_ULP);
export const numel = (shape: readonly number[]) => shape.reduce((p, d) => p * d, 1);
export const shapeName = (shape: readonly number[]) => `[${shape.join(',')}]`;
