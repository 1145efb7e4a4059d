// float64 reference of the NHWC / OHWI convolution: direct loops over the definition, no GEMM, so that it
// checks the im2col / col2im bookkeeping rather than repeating it.
import type { ConvGeometry } from '../ops/conv.ts';

type Arr = ArrayLike<number>;

function inputAt(g: ConvGeometry, n: number, oh: number, ow: number, kh: number, kw: number): number {
  const ih = oh * g.stride + kh - g.pad, iw = ow * g.stride + kw - g.pad;
  if (ih < 0 || iw < 0 || ih >= g.H || iw >= g.W) return -1;
  return ((n * g.H + ih) * g.W + iw) * g.C;
}

export function convForwardReference(x: Arr, w: Arr, bias: Arr | null, g: ConvGeometry): Float64Array {
  const y = new Float64Array(g.N * g.Ho * g.Wo * g.Cout);
  for (let n = 0; n < g.N; n++) for (let oh = 0; oh < g.Ho; oh++) for (let ow = 0; ow < g.Wo; ow++) {
    const out = ((n * g.Ho + oh) * g.Wo + ow) * g.Cout;
    for (let co = 0; co < g.Cout; co++) {
      let s = bias ? bias[co] : 0;
      for (let kh = 0; kh < g.KH; kh++) for (let kw = 0; kw < g.KW; kw++) {
        const at = inputAt(g, n, oh, ow, kh, kw);
        if (at < 0) continue;
        const wAt = ((co * g.KH + kh) * g.KW + kw) * g.C;
        for (let ci = 0; ci < g.C; ci++) s += x[at + ci] * w[wAt + ci];
      }
      y[out + co] = s;
    }
  }
  return y;
}

/** Calls `visit(dyAt, at, wTap)` for every (output pixel, tap) whose input pixel exists: dyAt is the output
 * pixel's offset in dy, at the input pixel's offset in x, wTap the tap's offset within one output channel's
 * weights. */
function forEachTap(g: ConvGeometry, visit: (dyAt: number, at: number, wTap: number) => void): void {
  for (let n = 0; n < g.N; n++) for (let oh = 0; oh < g.Ho; oh++) for (let ow = 0; ow < g.Wo; ow++) {
    const dyAt = ((n * g.Ho + oh) * g.Wo + ow) * g.Cout;
    for (let kh = 0; kh < g.KH; kh++) for (let kw = 0; kw < g.KW; kw++) {
      const at = inputAt(g, n, oh, ow, kh, kw);
      if (at >= 0) visit(dyAt, at, (kh * g.KW + kw) * g.C);
    }
  }
}

export function convBackwardInputReference(dy: Arr, w: Arr, g: ConvGeometry): Float64Array {
  const dx = new Float64Array(g.N * g.H * g.W * g.C);
  const perOut = g.KH * g.KW * g.C;
  forEachTap(g, (dyAt, at, wTap) => {
    for (let co = 0; co < g.Cout; co++) {
      const d = dy[dyAt + co];
      for (let ci = 0; ci < g.C; ci++) dx[at + ci] += d * w[co * perOut + wTap + ci];
    }
  });
  return dx;
}

export function convBackwardWeightReference(dy: Arr, x: Arr, g: ConvGeometry): Float64Array {
  const perOut = g.KH * g.KW * g.C;
  const dw = new Float64Array(g.Cout * perOut);
  forEachTap(g, (dyAt, at, wTap) => {
    for (let co = 0; co < g.Cout; co++) {
      const d = dy[dyAt + co];
      for (let ci = 0; ci < g.C; ci++) dw[co * perOut + wTap + ci] += d * x[at + ci];
    }
  });
  return dw;
}

export function convBackwardBiasReference(dy: Arr, g: ConvGeometry): Float64Array {
  const db = new Float64Array(g.Cout);
  for (let m = 0; m < g.M; m++) for (let co = 0; co < g.Cout; co++) db[co] += dy[m * g.Cout + co];
  return db;
}
