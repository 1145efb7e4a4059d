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

@group(0) @binding(12) var<storage, read> dcols4: array<vec4<f32>>;
@group(0) @binding(13) var<storage, read_write> dx4: array<vec4<f32>>;
#import col2im(T=f32, S=)
alias F4 = vec4<f32>;
#import col2im(T=F4, S=4)

// ---- implicit GEMM operands (shaders/conv_subgroup.wgsl) ----------------------------------------------------

fn channel(n: u32, ih: i32, iw: i32, ci: u32) -> f32 {
  if (ih < 0 || iw < 0 || ih >= i32(conv.H) || iw >= i32(conv.W) || ci >= conv.C) { return 0.0; }
  return x[((n * conv.H + u32(ih)) * conv.W + u32(iw)) * conv.C + ci];
}

// The input once, zero-padded in space and in channels (to a multiple of 4): texel (iw * C4 + c4, n * Hp + ih)
// holds channels 4c4..4c4+3 of padded pixel (ih, iw) of image n. Invocation (texel column, ih, n): two
// divisions per texel, none for the row.
fn paddedTexel(gid: vec3<u32>) -> vec4<i32> {
  if (gid.x >= conv.Wp * conv.C4 || gid.y >= conv.Hp || gid.z >= conv.N) { return vec4<i32>(-1); }
  return vec4<i32>(i32(gid.y) - i32(conv.pad), i32(gid.x / conv.C4) - i32(conv.pad), i32((gid.x % conv.C4) * 4u), 0);
}

fn storePadded(gid: vec3<u32>, v: vec4<f32>) {
  textureStore(dstTex, vec2<u32>(gid.x, gid.z * conv.Hp + gid.y), v);
}

@compute @workgroup_size(16, 4)
fn pad_input(@builtin(global_invocation_id) gid: vec3<u32>) {
  let t = paddedTexel(gid);
  if (t.w < 0) { return; }
  let c = u32(t.z);
  storePadded(gid, vec4<f32>(channel(gid.z, t.x, t.y, c), channel(gid.z, t.x, t.y, c + 1u), channel(gid.z, t.x, t.y, c + 2u), channel(gid.z, t.x, t.y, c + 3u)));
}

// C a multiple of 4: a texel is one vec4 of the input.
@compute @workgroup_size(16, 4)
fn pad_input_c4(@builtin(global_invocation_id) gid: vec3<u32>) {
  let t = paddedTexel(gid);
  if (t.w < 0) { return; }
  var v = vec4<f32>(0.0);
  if (t.x >= 0 && t.y >= 0 && t.x < i32(conv.H) && t.y < i32(conv.W)) {
    v = x4[((gid.z * conv.H + u32(t.x)) * conv.W + u32(t.y)) * conv.C4 + u32(t.z) / 4u];
  }
  storePadded(gid, v);
}

// The weights as the forward GEMM's B operand: texel (co / 4, k') holds W[co..co+3, kh, kw, ci] for
// k' = (kh * KW + kw) * 4C4 + ci, zero for padded channels and output channels past Cout.
// The input gradient of a stride-1 convolution is a convolution of dY with the weights flipped in space and
// transposed in channels: Wf[c, kh, kw, co] = W[co, KH-1-kh, KW-1-kw, c]. Dispatched with the transposed geometry
// (input channels conv.C = the forward's Cout, output channels conv.Cout = the forward's C), the flipped entry
// writes Wf in the same layout. Invocation (column texel, channel, tap): no division per texel (forward), two
// (flipped).
fn storeWeightTexel(gid: vec3<u32>, flipped: bool) {
  let ci = gid.y;
  let tap = gid.z;
  if (gid.x >= conv.colsPadded / 4u || ci >= conv.C4 * 4u || tap >= conv.KH * conv.KW) { return; }
  var v = vec4<f32>(0.0);
  if (ci < conv.C) {
    // Element of W behind output column o = 0 and the step between neighbouring columns.
    var at = tap * conv.C + ci;
    var step = conv.KH * conv.KW * conv.C;
    if (flipped) {
      at = ((ci * conv.KH + conv.KH - 1u - tap / conv.KW) * conv.KW + conv.KW - 1u - tap % conv.KW) * conv.Cout;
      step = 1u;
    }
    for (var j = 0u; j < 4u; j++) {
      let o = gid.x * 4u + j;
      if (o < conv.Cout) { v[j] = weight[at + o * step]; }
    }
  }
  textureStore(dstTex, vec2<u32>(gid.x, tap * conv.C4 * 4u + ci), v);
}

@compute @workgroup_size(16, 4)
fn weights_texture(@builtin(global_invocation_id) gid: vec3<u32>) {
  storeWeightTexel(gid, false);
}

@compute @workgroup_size(16, 4)
fn weights_texture_flipped(@builtin(global_invocation_id) gid: vec3<u32>) {
  storeWeightTexel(gid, true);
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

// A box of kernel taps of OHWI weights, the taps [kh0, kh0 + KH) x [kw0, kw0 + KW) of a [Cout, fullKH, fullKW, C]
// tensor: copied out into a dense [Cout, KH, KW, C] tensor (toFull = 0), or back into the full layout (toFull =
// 1, into a zeroed tensor). Crops the taps that only ever meet zero padding (a 3x3 conv on a 1x1 map is a 1x1
// conv: 9x less work), and puts their zero gradient back. Invocation (ci, co / 8) walks the box for 8 output
// channels: no division, and few workgroups (each costs llvmpipe a fixed start-up).
struct TapBox { Cout: u32, C: u32, KH: u32, KW: u32, fullKH: u32, fullKW: u32, kh0: u32, kw0: u32, toFull: u32 }
@group(0) @binding(9) var<uniform> box: TapBox;

// The taps' channels as floats, or as vec4s when C is a multiple of 4 (ResNet's always are: a quarter of
// llvmpipe's per-lane load loops); box.C counts elements of the type.
@group(0) @binding(10) var<storage, read> weight4: array<vec4<f32>>;
@group(0) @binding(11) var<storage, read_write> weightOut4: array<vec4<f32>>;
#import tap_box(S=)
#import tap_box(S=4)
