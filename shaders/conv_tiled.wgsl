// Implicit-GEMM convolution on the tiled design (for real GPUs): the three products of shaders/conv.wgsl with
// the patch operand gathered from the NHWC tensor inside the tile loads, so no im2col matrix, no col2im and no
// flipped weights are ever stored. Each loader returns 0 where its element falls into the zero padding (or past
// the operand), which is what the tiled GEMM (shaders/lib/tiled_gemm.wgsl) asks of it.
//   conv_fwd_tiled: Y[(n, oh, ow), co]  = sum over (kh, kw, ci) of x[n, oh*s + kh - p, ow*s + kw - p, ci] W[co, kh, kw, ci]
//   conv_dx_tiled:  dX[(n, h, w), ci]   = sum over (kh, kw, co) of dY[n, oh, ow, co] W[co, kh, kw, ci], where
//                                         oh = (h + p - kh) / s when that divides exactly (any stride)
//   conv_dw_tiled:  dW[co, (kh, kw, ci)] = sum over (n, oh, ow) of dY[n, oh, ow, co] x[n, oh*s + kh - p, ...]
// Operands: `act` is the NHWC tensor the patches come from (x, or dY for dx); `dense` is the other one (the OHWI
// weights, or dY for dw).

struct Dims {
  M: u32, N: u32, K: u32,   // the GEMM: rows, columns, reduction (dw: the patch rows of one chunk)
  strideC: u32,             // dw: elements between the chunks' partial products (z = chunk); else 0
  patches: u32,             // dw: all patch rows, N * Ho * Wo (the last chunk may be short)
  // Convolution geometry: input [batch, H, W, C], output [batch, Ho, Wo, Cout], OHWI weights [Cout, KH, KW, C].
  H: u32, W: u32, C: u32, Ho: u32, Wo: u32, Cout: u32,
  KH: u32, KW: u32, stride: u32, pad: u32,
}

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> act: array<f32>;
@group(0) @binding(2) var<storage, read> dense: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

#import store4
#import tiled_gemm_tiles

// Row-major index i of an [outer, rows, cols] grid as (outer, row, col): a pixel (n, h, w) of an h x w map, or a
// tap (kh, kw, channel) of a KH x KW x channels column.
fn split3(i: u32, rows: u32, cols: u32) -> vec3<u32> {
  return vec3<u32>(i / (cols * rows), (i / cols) % rows, i % cols);
}

// x[n, oh*s + kh - p, ow*s + kw - p, ci] for patch row m = (n, oh, ow) and column k = (kh, kw, ci); 0 in the padding.
fn patchAt(m: u32, k: u32) -> f32 {
  let o = split3(m, dims.Ho, dims.Wo);
  let t = split3(k, dims.KW, dims.C);
  let ih = i32(o.y * dims.stride + t.x) - i32(dims.pad);
  let iw = i32(o.z * dims.stride + t.y) - i32(dims.pad);
  if (ih < 0 || iw < 0 || ih >= i32(dims.H) || iw >= i32(dims.W)) { return 0.0; }
  return act[((o.x * dims.H + u32(ih)) * dims.W + u32(iw)) * dims.C + t.z];
}

// ---- forward: A = patches [M, K], B = W^T (W stored [Cout, K]) ------------------------------------------------
fn fwdA(batch: u32, row: u32, k: u32) -> f32 {
  if (row >= dims.M || k >= dims.K) { return 0.0; }
  return patchAt(row, k);
}

fn fwdB(batch: u32, k: u32, col: u32) -> f32 {
  if (k >= dims.K || col >= dims.N) { return 0.0; }
  return dense[col * dims.K + k];
}

#import tiled_gemm(ENTRY=conv_fwd_tiled, LOAD_A=fwdA, LOAD_B=fwdB)

// ---- input gradient: A = the dY taps of each input pixel [N*H*W, KH*KW*Cout], B = W as [(kh, kw, co), ci] ----
fn dxA(batch: u32, row: u32, t: u32) -> f32 {
  if (row >= dims.M || t >= dims.K) { return 0.0; }
  let p = split3(row, dims.H, dims.W);
  let tap = split3(t, dims.KW, dims.Cout);
  let th = i32(p.y + dims.pad) - i32(tap.x);
  let tw = i32(p.z + dims.pad) - i32(tap.y);
  if (th < 0 || tw < 0 || u32(th) % dims.stride != 0u || u32(tw) % dims.stride != 0u) { return 0.0; }
  let oh = u32(th) / dims.stride;
  let ow = u32(tw) / dims.stride;
  if (oh >= dims.Ho || ow >= dims.Wo) { return 0.0; }
  return act[((p.x * dims.Ho + oh) * dims.Wo + ow) * dims.Cout + tap.z];
}

fn dxB(batch: u32, t: u32, ci: u32) -> f32 {
  if (t >= dims.K || ci >= dims.N) { return 0.0; }
  let co = t % dims.Cout;
  let tap = t / dims.Cout;
  return dense[(co * dims.KH * dims.KW + tap) * dims.C + ci];
}

#import tiled_gemm(ENTRY=conv_dx_tiled, LOAD_A=dxA, LOAD_B=dxB)

// ---- weight gradient: A = dY^T [Cout, N*Ho*Wo] (dY stored [N*Ho*Wo, Cout]), B = patches [N*Ho*Wo, K'] ----------
// The reduction over the patch rows is split into chunks of dims.K rows, chunk z into partial product z (summed
// after in chunk order): a layer with few weights still fills the GPU.
fn chunkRow(chunk: u32, m: u32) -> u32 {
  if (m >= dims.K) { return dims.patches; }
  return chunk * dims.K + m;
}

fn dwA(chunk: u32, co: u32, m: u32) -> f32 {
  let row = chunkRow(chunk, m);
  if (co >= dims.M || row >= dims.patches) { return 0.0; }
  return dense[row * dims.Cout + co];
}

fn dwB(chunk: u32, m: u32, k: u32) -> f32 {
  let row = chunkRow(chunk, m);
  if (row >= dims.patches || k >= dims.N) { return 0.0; }
  return patchAt(row, k);
}

#import tiled_gemm(ENTRY=conv_dw_tiled, LOAD_A=dwA, LOAD_B=dwB)
