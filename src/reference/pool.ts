// float64 references of the pooling kernels on NHWC activations.

export interface MaxPoolReferenceWindow { kernel: [number, number]; stride: [number, number]; padding: [number, number] }

/**
 * Max-pool with PyTorch's semantics: padding never wins (it is -inf), output size floor((H + 2p - k) / s) + 1,
 * ties go to the first maximum in row-major window order; argmax holds the spatial index h * W + w.
 */
export function maxPool2dReference(x: ArrayLike<number>, shape: readonly number[], window: MaxPoolReferenceWindow): { y: Float64Array; argmax: Uint32Array; outShape: number[] } {
  const [N, H, W, C] = shape;
  const [kh, kw] = window.kernel, [sh, sw] = window.stride, [ph, pw] = window.padding;
  const OH = Math.floor((H + 2 * ph - kh) / sh) + 1;
  const OW = Math.floor((W + 2 * pw - kw) / sw) + 1;
  const y = new Float64Array(N * OH * OW * C);
  const argmax = new Uint32Array(y.length);
  for (let n = 0; n < N; n++) for (let oh = 0; oh < OH; oh++) for (let ow = 0; ow < OW; ow++) for (let c = 0; c < C; c++) {
    let best = -Infinity, bestAt = -1;
    for (let i = 0; i < kh; i++) {
      const h = oh * sh - ph + i;
      if (h < 0 || h >= H) continue;
      for (let j = 0; j < kw; j++) {
        const w = ow * sw - pw + j;
        if (w < 0 || w >= W) continue;
        const v = x[((n * H + h) * W + w) * C + c];
        if (bestAt < 0 || v > best) { best = v; bestAt = h * W + w; }
      }
    }
    const o = ((n * OH + oh) * OW + ow) * C + c;
    y[o] = best;
    argmax[o] = bestAt;
  }
  return { y, argmax, outShape: [N, OH, OW, C] };
}

/** Scatters dy to the arg-max of each window. */
export function maxPool2dBackwardReference(dy: ArrayLike<number>, argmax: ArrayLike<number>, inputShape: readonly number[], outShape: readonly number[]): Float64Array {
  const [N, H, W, C] = inputShape;
  const [, OH, OW] = outShape;
  const dx = new Float64Array(N * H * W * C);
  for (let n = 0; n < N; n++) for (let o = 0; o < OH * OW; o++) for (let c = 0; c < C; c++) {
    const i = (n * OH * OW + o) * C + c;
    dx[(n * H * W + argmax[i]) * C + c] += dy[i];
  }
  return dx;
}

export function globalAvgPoolReference(x: ArrayLike<number>, shape: readonly number[]): Float64Array {
  const [N, H, W, C] = shape;
  const y = new Float64Array(N * C);
  for (let n = 0; n < N; n++) for (let r = 0; r < H * W; r++) for (let c = 0; c < C; c++) y[n * C + c] += x[(n * H * W + r) * C + c];
  return y.map((s) => s / (H * W));
}

export function globalAvgPoolBackwardReference(dy: ArrayLike<number>, inputShape: readonly number[]): Float64Array {
  const [N, H, W, C] = inputShape;
  return Float64Array.from({ length: N * H * W * C }, (_, i) => dy[Math.floor(i / (H * W * C)) * C + (i % C)] / (H * W));
}
