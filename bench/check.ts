// A figure of a wrong result is worthless, so every compared case checks ours and each peer against a float64
// reference at sampled outputs (all of them are sums of products, so the reference is cheap per sample).
//
// Tolerance: a sum of T products computed in f32, in any order and with or without fused multiply-add, is
// within gamma_T * sum|products| of the exact value, gamma_T = T*u/(1 - T*u) with u = 2^-24 (Higham, Accuracy
// and Stability of Numerical Algorithms, 3.1). We allow 2*T*u*sum|products| = T * 2^-23 * sum|products|: above
// gamma_T for every T used here, so no correct engine fails, and tight enough that a wrong index or a missing
// term (an error the size of a term, or of the sum) fails on most samples.

export interface Sample {
  index: number;
  ref: number;
  absSum: number;
  terms: number;
}

export interface Agreement {
  samples: number;
  /** Largest |got - ref| over the samples. */
  maxError: number;
  /** Largest |got - ref| / bound (at most 1 when it agrees). */
  worstShare: number;
  agrees: boolean;
  detail: string;
}

export function agreement(got: ArrayLike<number>, samples: Sample[], gotIndex: (refIndex: number) => number = (i) => i): Agreement {
  let maxError = 0, worstShare = 0, detail = '';
  for (const s of samples) {
    const value = got[gotIndex(s.index)];
    const error = Math.abs(value - s.ref);
    const bound = s.terms * 2 ** -23 * s.absSum + Number.MIN_VALUE;
    const share = Number.isFinite(error) ? error / bound : Infinity;
    maxError = Math.max(maxError, error);
    if (share > worstShare || !Number.isFinite(share)) {
      worstShare = share;
      detail = `output ${s.index}: got ${value}, float64 reference ${s.ref}, |error| ${error.toExponential(2)} vs bound ${bound.toExponential(2)}`;
    }
  }
  return { samples: samples.length, maxError, worstShare, agrees: worstShare <= 1, detail };
}

/** `count` distinct-ish indices below `n`, the same every run. */
export function sampleIndices(n: number, count: number): number[] {
  if (n <= count) return Array.from({ length: n }, (_, i) => i);
  const out: number[] = [];
  let state = 0x9e3779b9;
  for (let i = 0; i < count; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out.push(state % n);
  }
  return out;
}

/** `count` sampled outputs of `total`: each the sum, in order, of the products `each` hands to `add`. */
function sampleSums(total: number, count: number, terms: number, each: (index: number, add: (p: number) => void) => void): Sample[] {
  return sampleIndices(total, count).map((index) => {
    let ref = 0, absSum = 0;
    each(index, (p) => { ref += p; absSum += Math.abs(p); });
    return { index, ref, absSum, terms };
  });
}

/** C = A . B, A [M, K], B [K, N] row-major. */
export function matmulSamples(a: Float32Array, b: Float32Array, M: number, N: number, K: number, count = 64): Sample[] {
  return sampleSums(M * N, count, K, (index, add) => {
    const i = Math.floor(index / N), j = index % N;
    for (let k = 0; k < K; k++) {
      add(a[i * K + k] * b[k * N + j]);
    }
  });
}

export interface ConvShape {
  N: number; H: number; W: number; C: number; Cout: number; k: number; stride: number; pad: number; Ho: number; Wo: number;
}

/** The input row (or column) that output position `o` meets through tap `k`, or -1 where it is padding. */
function inputAt(o: number, k: number, g: ConvShape, size: number): number {
  const at = o * g.stride + k - g.pad;
  return at >= 0 && at < size ? at : -1;
}

/** y [N, Ho, Wo, Cout] from x NHWC and w OHWI [Cout, k, k, C]. */
export function convForwardSamples(x: Float32Array, w: Float32Array, g: ConvShape, count = 64): Sample[] {
  return sampleSums(g.N * g.Ho * g.Wo * g.Cout, count, g.k * g.k * g.C, (index, add) => {
    const co = index % g.Cout, ow = Math.floor(index / g.Cout) % g.Wo, oh = Math.floor(index / (g.Cout * g.Wo)) % g.Ho, n = Math.floor(index / (g.Cout * g.Wo * g.Ho));
    for (let kh = 0; kh < g.k; kh++) {
      const h = inputAt(oh, kh, g, g.H);
      if (h < 0) continue;
      for (let kw = 0; kw < g.k; kw++) {
        const ww = inputAt(ow, kw, g, g.W);
        if (ww < 0) continue;
        for (let ci = 0; ci < g.C; ci++) {
          add(x[((n * g.H + h) * g.W + ww) * g.C + ci] * w[((co * g.k + kh) * g.k + kw) * g.C + ci]);
        }
      }
    }
  });
}

/** dx [N, H, W, C] from dy [N, Ho, Wo, Cout] and w OHWI. */
export function convInputGradSamples(dy: Float32Array, w: Float32Array, g: ConvShape, count = 64): Sample[] {
  return sampleSums(g.N * g.H * g.W * g.C, count, g.k * g.k * g.Cout, (index, add) => {
    const ci = index % g.C, x = Math.floor(index / g.C) % g.W, h = Math.floor(index / (g.C * g.W)) % g.H, n = Math.floor(index / (g.C * g.W * g.H));
    for (let kh = 0; kh < g.k; kh++) {
      const ohs = h + g.pad - kh;
      if (ohs < 0 || ohs % g.stride !== 0 || ohs / g.stride >= g.Ho) continue;
      for (let kw = 0; kw < g.k; kw++) {
        const ows = x + g.pad - kw;
        if (ows < 0 || ows % g.stride !== 0 || ows / g.stride >= g.Wo) continue;
        const base = ((n * g.Ho + ohs / g.stride) * g.Wo + ows / g.stride) * g.Cout;
        for (let co = 0; co < g.Cout; co++) {
          add(dy[base + co] * w[((co * g.k + kh) * g.k + kw) * g.C + ci]);
        }
      }
    }
  });
}

/** dW in OHWI [Cout, k, k, C] from dy and x. */
export function convWeightGradSamples(dy: Float32Array, x: Float32Array, g: ConvShape, count = 64): Sample[] {
  return sampleSums(g.Cout * g.k * g.k * g.C, count, g.N * g.Ho * g.Wo, (index, add) => {
    const ci = index % g.C, kw = Math.floor(index / g.C) % g.k, kh = Math.floor(index / (g.C * g.k)) % g.k, co = Math.floor(index / (g.C * g.k * g.k));
    for (let n = 0; n < g.N; n++) {
      for (let oh = 0; oh < g.Ho; oh++) {
        const h = inputAt(oh, kh, g, g.H);
        if (h < 0) continue;
        for (let ow = 0; ow < g.Wo; ow++) {
          const ww = inputAt(ow, kw, g, g.W);
          if (ww >= 0) add(dy[((n * g.Ho + oh) * g.Wo + ow) * g.Cout + co] * x[((n * g.H + h) * g.W + ww) * g.C + ci]);
        }
      }
    }
  });
}

/** OHWI [Cout, k, k, C] index -> TF.js HWIO [k, k, C, Cout] index. */
export function ohwiToHwioIndex(g: ConvShape): (index: number) => number {
  return (index) => {
    const ci = index % g.C, kw = Math.floor(index / g.C) % g.k, kh = Math.floor(index / (g.C * g.k)) % g.k, co = Math.floor(index / (g.C * g.k * g.k));
    return ((kh * g.k + kw) * g.C + ci) * g.Cout + co;
  };
}

/** Copies OHWI weights into TF.js's HWIO layout. */
export function ohwiToHwio(w: Float32Array, g: ConvShape): Float32Array {
  const out = new Float32Array(w.length);
  const at = ohwiToHwioIndex(g);
  for (let i = 0; i < w.length; i++) out[at(i)] = w[i];
  return out;
}
