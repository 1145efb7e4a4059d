// The CPU twin of shaders/rng.wgsl (Philox4x32-10): the same seed, stream and index give the same bits, so
// CPU-side choices (shuffles, selection sampling) and GPU draws come from one reproducible generator.

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

function mulhi(a: number, b: number): number {
  const aLo = a & 0xffff, aHi = a >>> 16, bLo = b & 0xffff, bHi = b >>> 16;
  const loLo = aLo * bLo, hiLo = aHi * bLo, loHi = aLo * bHi, hiHi = aHi * bHi;
  const cross = (loLo >>> 16) + (hiLo & 0xffff) + loHi;
  return (hiHi + (hiLo >>> 16) + Math.floor(cross / 65536)) >>> 0;
}

/** Philox4x32-10 of a 128-bit counter under a 64-bit key. */
export function philox(c0: number, c1: number, c2: number, c3: number, k0: number, k1: number): [number, number, number, number] {
  for (let round = 0; round < 10; round++) {
    const hi0 = mulhi(M0, c0), lo0 = Math.imul(M0, c0) >>> 0;
    const hi1 = mulhi(M1, c2), lo1 = Math.imul(M1, c2) >>> 0;
    [c0, c1, c2, c3] = [(hi1 ^ c1 ^ k0) >>> 0, lo1, (hi0 ^ c3 ^ k1) >>> 0, lo0];
    k0 = (k0 + W0) >>> 0;
    k1 = (k1 + W1) >>> 0;
  }
  return [c0, c1, c2, c3];
}

export const UNIT = 2 ** -24;

/** Splits a seed or stream number (up to 2^53) into the two u32 words the kernels take. */
export function splitWords(value: number): [number, number] {
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`seed/stream must be a non-negative integer, got ${value}`);
  return [value >>> 0, Math.floor(value / 2 ** 32) >>> 0];
}

/** The i-th 32-bit word of (seed, stream). */
export function randomBits(seed: number, stream: number, index: number): number {
  const [s0, s1] = splitWords(seed);
  const [t0, t1] = splitWords(stream);
  return philox(Math.floor(index / 4), t0, t1, 0, s0, s1)[index % 4];
}

/** n uniform f32 values in [low, high), identical to the GPU's `uniform` kernel. */
export function uniformArray(n: number, seed: number, stream = 0, low = 0, high = 1): Float32Array {
  const [s0, s1] = splitWords(seed);
  const [t0, t1] = splitWords(stream);
  const out = new Float32Array(n);
  const span = Math.fround(high - low);
  for (let block = 0; block * 4 < n; block++) {
    const bits = philox(block, t0, t1, 0, s0, s1);
    for (let j = 0; j < 4 && block * 4 + j < n; j++) {
      out[block * 4 + j] = Math.fround(low + Math.fround(span * ((bits[j] >>> 8) * UNIT)));
    }
  }
  return out;
}

/** n normal values (Box-Muller as in the `normal` kernel), computed in float64. */
export function normalArray(n: number, seed: number, stream = 0, mean = 0, std = 1): Float64Array {
  const [s0, s1] = splitWords(seed);
  const [t0, t1] = splitWords(stream);
  const out = new Float64Array(n);
  for (let block = 0; block * 4 < n; block++) {
    const bits = philox(block, t0, t1, 0, s0, s1);
    for (let pair = 0; pair < 2; pair++) {
      const u1 = (bits[2 * pair] >>> 8) * UNIT + UNIT;
      const u2 = (bits[2 * pair + 1] >>> 8) * UNIT;
      const r = Math.sqrt(-2 * Math.log(u1));
      const theta = 2 * Math.PI * u2;
      const i = block * 4 + 2 * pair;
      if (i < n) out[i] = mean + std * r * Math.cos(theta);
      if (i + 1 < n) out[i + 1] = mean + std * r * Math.sin(theta);
    }
  }
  return out;
}

/** A seeded stream of uniform doubles on the CPU (shuffles, sampling): counter-based, so it can be resumed. */
export class CpuRandom {
  private index = 0;
  constructor(readonly seed: number, readonly stream = 0) {}

  /** Uniform in [0, 1) with 53 random bits from two words. */
  next(): number {
    const hi = randomBits(this.seed, this.stream, this.index++) >>> 5;
    const lo = randomBits(this.seed, this.stream, this.index++) >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Fisher-Yates shuffle of 0..n-1. */
  permutation(n: number): Uint32Array {
    const order = new Uint32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    return order;
  }

  get position(): number { return this.index; }
  set position(value: number) { this.index = value; }
}
