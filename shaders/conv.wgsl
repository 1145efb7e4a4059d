// Convolution as GEMM, NHWC activations and OHWI weights ([Cout, KH, KW, Cin]), so that one row of the patch
// matrix P[M = N*Ho*Wo, K = KH*KW*Cin] is a contiguous run of Cin values per tap, and the weight matrix
// W[Cout, K] is the OHWI tensor as it is stored:
//   forward      Y[M, Cout]   = P . W^T
//   input grad   dP[M, K]     = dY . W, then col2im sums each input pixel's taps (the transposed convolution)
//   weight grad  dW[Cout, K]  = dY^T . P, split over row chunks of P and summed in a fixed order
// The kernels here only move data: im2col writes a slab of P's rows as rgba32f texels (for the texel GEMMs) or
// into a buffer (for the buffer GEMMs); col2im gathers dP back into dX. The products run on the matmul kernels.

struct Conv {
  N: u32, H: u32, W: u32, C: u32,       // input NHWC
  Ho: u32, Wo: u32, KH: u32, KW: u32,
  stride: u32, pad: u32,
  K: u32,                               // KH * KW * C
  m0: u32,                              // first patch row of this slab (col2im: first dx element written)
  rows: u32,                            // patch rows in this slab (rows past it are written as zeros)
  rowsPadded: u32, colsPadded: u32,     // the slab's padded extent; colsPadded is a multiple of 4
  total: u32,                           // elements (or texels) this dispatch writes
  Cout: u32,
  C4: u32, Hp: u32, Wp: u32,            // implicit GEMM: channel texels per pixel, padded input extent
}

@group(0) @binding(0) var<uniform> conv: Conv;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> cols: array<f32>;
@group(0) @binding(4) var dstTex: texture_storage_2d<rgba32float, write>;
@group(0) @binding(5) var<storage, read> dcols: array<f32>;
@group(0) @binding(6) var<storage, read_write> dx: array<f32>;
@group(0) @binding(7) var<storage, read> weight: array<f32>;
@group(0) @binding(8) var<storage, read_write> weightOut: array<f32>;

#import flat_index(WG=64u)
#import nhwc

// Texel i of a texture conv.colsPadded / 4 texels wide (a slab of P, or the weights as a GEMM operand): its
// (column, row).
fn slabTexel(i: u32) -> vec2<u32> {
  let c4s = conv.colsPadded / 4u;
  return vec2<u32>(i % c4s, i / c4s);
}

// Input offset of tap k of patch row m, or -1 where the tap falls into the zero padding.
fn tapOffset(m: u32, k: u32) -> i32 {
  let hw = conv.Ho * conv.Wo;
  let n = m / hw;
  let rest = m % hw;
  let oh = rest / conv.Wo;
  let ow = rest % conv.Wo;
  let kh = k / (conv.KW * conv.C);
  let kw = (k / conv.C) % conv.KW;
  let ci = k % conv.C;
  let ih = i32(oh * conv.stride + kh) - i32(conv.pad);
  let iw = i32(ow * conv.stride + kw) - i32(conv.pad);
  if (ih < 0 || iw < 0 || ih >= i32(conv.H) || iw >= i32(conv.W)) { return -1; }
  return ((i32(n) * i32(conv.H) + ih) * i32(conv.W) + iw) * i32(conv.C) + i32(ci);
}

fn patchValue(r: u32, k: u32) -> f32 {
  if (r >= conv.rows || k >= conv.K) { return 0.0; }
  let at = tapOffset(conv.m0 + r, k);
  if (at < 0) { return 0.0; }
  return x[at];
}

// One invocation per texel of the slab: texel (k/4, r) holds P[m0 + r, k..k+3].
@compute @workgroup_size(64)
fn im2col_texture(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flatIndex(gid, groups);
  if (i >= conv.total) { return; }
  let t = slabTexel(i);
  textureStore(dstTex, t, vec4<f32>(patchValue(t.y, 4u * t.x), patchValue(t.y, 4u * t.x + 1u), patchValue(t.y, 4u * t.x + 2u), patchValue(t.y, 4u * t.x + 3u)));
}

// Cin a multiple of 4: the four taps of a texel are four channels of one pixel, so one vec4 load serves them.
@compute @workgroup_size(64)
fn im2col_texture_c4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flatIndex(gid, groups);
  if (i >= conv.total) { return; }
  let t = slabTexel(i);
  let k = t.x * 4u;
  var v = vec4<f32>(0.0);
  if (t.y < conv.rows && k < conv.K) {
    let at = tapOffset(conv.m0 + t.y, k);
    if (at >= 0) { v = x4[u32(at) / 4u]; }
  }
  textureStore(dstTex, t, v);
}

// The slab's rows of P as a dense row-major [rows, K] buffer, for the buffer GEMMs.
@compute @workgroup_size(64)
fn im2col_buffer(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flatIndex(gid, groups);
  if (i >= conv.total) { return; }
  cols[i] = patchValue(i / conv.K, i % conv.K);
}

// dX[n, h, w, ci] = sum over taps (kh, kw) whose output pixel (oh, ow) exists of dP[(n, oh, ow), (kh, kw, ci)].
// A gather, not a scatter: each input element is written once, in a fixed order, without atomics. Runs on a slab
// of whole images (conv.N of them here), whose dP rows start at 0 and whose dx starts at element m0.
@compute @workgroup_size(64)
fn col2im(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flatIndex(gid, groups);
  if (i >= conv.total) { return; }
  let pos = nhwcOf(i, conv.H, conv.W, conv.C);
  let n = pos.x;
  let h = pos.y;
  let w = pos.z;
  let ci = pos.w;
  var sum = 0.0;
  for (var kh = 0u; kh < conv.KH; kh++) {
    let th = i32(h + conv.pad) - i32(kh);
    if (th < 0 || th % i32(conv.stride) != 0) { continue; }
    let oh = u32(th) / conv.stride;
    if (oh >= conv.Ho) { continue; }
    for (var kw = 0u; kw < conv.KW; kw++) {
      let tw = i32(w + conv.pad) - i32(kw);
      if (tw < 0 || tw % i32(conv.stride) != 0) { continue; }
      let ow = u32(tw) / conv.stride;
      if (ow >= conv.Wo) { continue; }
      let row = (n * conv.Ho + oh) * conv.Wo + ow;
      sum += dcols[row * conv.K + (kh * conv.KW + kw) * conv.C + ci];
    }
  }
  dx[conv.m0 + i] = sum;
}

// ---- implicit GEMM operands (shaders/conv_subgroup.wgsl) ----------------------------------------------------

fn channel(n: u32, ih: i32, iw: i32, ci: u32) -> f32 {
  if (ih < 0 || iw < 0 || ih >= i32(conv.H) || iw >= i32(conv.W) || ci >= conv.C) { return 0.0; }
  return x[((n * conv.H + u32(ih)) * conv.W + u32(iw)) * conv.C + ci];
}

// The input once, zero-padded in space and in channels (to a multiple of 4): texel (iw * C4 + c4, n * Hp + ih)
// holds channels 4c4..4c4+3 of padded pixel (ih, iw) of image n.
@compute @workgroup_size(64)
fn pad_input(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flatIndex(gid, groups);
  if (i >= conv.total) { return; }
  let u = i % (conv.Wp * conv.C4);
  let v = i / (conv.Wp * conv.C4);
  let n = v / conv.Hp;
  let ih = i32(v % conv.Hp) - i32(conv.pad);
  let iw = i32(u / conv.C4) - i32(conv.pad);
  let c = (u % conv.C4) * 4u;
  textureStore(dstTex, vec2<u32>(u, v), vec4<f32>(channel(n, ih, iw, c), channel(n, ih, iw, c + 1u), channel(n, ih, iw, c + 2u), channel(n, ih, iw, c + 3u)));
}

// The weights as the forward GEMM's B operand: texel (co / 4, k') holds W[co..co+3, kh, kw, ci] for
// k' = (kh * KW + kw) * 4C4 + ci, zero for padded channels and output channels past Cout.
fn weightAt(co: u32, k: u32) -> f32 {
  let cq = conv.C4 * 4u;
  let ci = k % cq;
  let tap = k / cq;
  if (co >= conv.Cout || ci >= conv.C) { return 0.0; }
  return weight[(co * conv.KH * conv.KW + tap) * conv.C + ci];
}

@compute @workgroup_size(64)
fn weights_texture(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  storeWeightTexel(flatIndex(gid, groups), false);
}

// Texel i of the forward GEMM's B operand, (co / 4, k'): four output channels of W as stored, or of the flipped
// weights (below) that the input gradient's convolution takes.
fn storeWeightTexel(i: u32, flipped: bool) {
  if (i >= conv.total) { return; }
  let t = slabTexel(i);
  var v = vec4<f32>(0.0);
  for (var j = 0u; j < 4u; j++) {
    if (flipped) { v[j] = flippedWeightAt(t.x * 4u + j, t.y); } else { v[j] = weightAt(t.x * 4u + j, t.y); }
  }
  textureStore(dstTex, t, v);
}

// dW[Cout, KH, KW, C] from the implicit GEMM's dW'[Cout, KH*KW*4C4]: drops the padded channels.
@compute @workgroup_size(64)
fn unpad_weights(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flatIndex(gid, groups);
  if (i >= conv.total) { return; }
  let ci = i % conv.C;
  let rest = i / conv.C;   // co * KH * KW + tap
  weightOut[i] = weight[rest * conv.C4 * 4u + ci];
}

// The input gradient of a stride-1 convolution is a convolution of dY with the weights flipped in space and
// transposed in channels: Wf[c, kh, kw, co] = W[co, KH-1-kh, KW-1-kw, c]. Dispatched with the transposed geometry
// (input channels conv.C = the forward's Cout, output channels conv.Cout = the forward's C), this writes Wf as
// the forward GEMM's B operand, in the layout weights_texture uses.
fn flippedWeightAt(c: u32, k: u32) -> f32 {
  let cq = conv.C4 * 4u;
  let co = k % cq;            // channel of dY, the transposed conv's input
  let tap = k / cq;
  let kh = tap / conv.KW;
  let kw = tap % conv.KW;
  if (c >= conv.Cout || co >= conv.C) { return 0.0; }
  return weight[((co * conv.KH + (conv.KH - 1u - kh)) * conv.KW + (conv.KW - 1u - kw)) * conv.Cout + c];
}

@compute @workgroup_size(64)
fn weights_texture_flipped(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  storeWeightTexel(flatIndex(gid, groups), true);
}
