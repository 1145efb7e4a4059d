// Hand-written header; each #generate line stands for a kernel unrolled at load time by src/gpu/subgroup-gemm.ts.
//
// Implicit-GEMM convolution on the subgroup texel kernel of matmul_subgroup.wgsl (read that file's header for
// why the design looks like this). Instead of materialising the patch matrix P[N*Ho*Wo, KH*KW*Cq] (im2col), the
// kernels read patches straight from the input stored once as a zero-padded rgba32f texture: texel
// (iw * C4 + c4, n * Hp + ih) holds channels 4c4..4c4+3 of padded pixel (ih, iw) of image n, Cq = 4 * C4 channels
// (the input's channels rounded up to 4, zeros beyond). Patch row m = (n, oh, ow) starts at texel
// (ow * stride * C4, n * Hp + oh * stride); tap texel k4 = (kh, kw, c4) adds (kw * C4 + c4, kh). The padding
// makes every tap land inside the texture, so no load is guarded: 9x less operand traffic than im2col for 3x3.
//   conv_fwd: Y[M, Cout] = P . W^T          (A = patches, B = packed weights; conv_fwd32x8 where Cout % 64 == 0,
//             conv_fwdT32x8 where also KH*KW*C % 64 == 0: B = the OHWI weights copied as they are, read transposed)
//   conv_dw:  dW[Cout, K'] = dY^T . P       (A = packed dY^T, B = patches; conv_dw_row4 where Wo % 4 == 0,
//             conv_dw32x8 and conv_dw32x8_row4 where C % 64 == 0)
//   _k2:      the same with two k steps per loop iteration, where this machine runs them faster
enable subgroups;
// Spare subgroups return before the loop, which the uniformity analysis cannot prove safe: see 'spare' in
// src/gpu/subgroup-gemm.ts.
diagnostic(off, subgroup_uniformity);

// Lanes per workgroup, a multiple of 8: small problems use fewer so that no subgroup idles through a block.
override WG_LANES: u32 = 64u;

struct Dims {
  M: u32, N: u32, K: u32,
  Kp: u32, Np: u32,
  strideA: u32, strideB: u32, strideC: u32,
  tilesN: u32, tilesM: u32,
  transA: u32, transB: u32,
  // Convolution geometry of the patch operand.
  Ho: u32, Wo: u32, Hp: u32, C4: u32, KW: u32, stride: u32,
  patches: u32,       // patch rows that exist (rows past it are clamped onto the last one and never count)
  patchOffset: u32,   // first patch row of this dispatch (the weight gradient runs in chunks of rows)
}

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(5) var<storage, read_write> c: array<f32>;
@group(0) @binding(6) var aTex: texture_storage_2d<rgba32float, read>;
@group(0) @binding(7) var bTex: texture_storage_2d<rgba32float, read>;

fn patchOrigin(row: u32) -> vec2<u32> {
  let m = min(row + dims.patchOffset, dims.patches - 1u);
  let hw = dims.Ho * dims.Wo;
  let n = m / hw;
  let rest = m % hw;
  return vec2<u32>((rest % dims.Wo) * dims.stride * dims.C4, n * dims.Hp + (rest / dims.Wo) * dims.stride);
}

// A patch-row walker: (ow, oh, n, m) of the current row. Rows past the last patch stay on it (their A values
// are zero, so they add nothing).
fn patchStart(row: u32) -> vec4<u32> {
  let m = min(row + dims.patchOffset, dims.patches - 1u);
  let hw = dims.Ho * dims.Wo;
  let rest = m % hw;
  return vec4<u32>(rest % dims.Wo, rest / dims.Wo, m / hw, row + dims.patchOffset);
}

fn walkOrigin(w: vec4<u32>) -> vec2<u32> {
  return vec2<u32>(w.x * dims.stride * dims.C4, w.z * dims.Hp + w.y * dims.stride);
}

// The walker `rows` patch rows on: one, or 4 where Wo is a multiple of 4 and the walk starts at a multiple of 4
// (every group of 4 rows then shares an output row). Past the end it keeps the last row (group), whose A values
// are zero.
fn walkBy(w: vec4<u32>, rows: u32) -> vec4<u32> {
  if (w.w + rows >= dims.patches) { return vec4<u32>(w.x, w.y, w.z, w.w + rows); }
  var next = vec4<u32>(w.x + rows, w.y, w.z, w.w + rows);
  if (next.x == dims.Wo) { next.x = 0u; next.y += 1u; }
  if (next.y == dims.Ho) { next.y = 0u; next.z += 1u; }
  return next;
}

fn walkNext(w: vec4<u32>) -> vec4<u32> { return walkBy(w, 1u); }

fn walkNext4(w: vec4<u32>) -> vec4<u32> { return walkBy(w, 4u); }

fn tapOffset(k4: u32) -> vec2<u32> {
  let perRow = dims.KW * dims.C4;
  return vec2<u32>(k4 % perRow, k4 / perRow);
}

#import store4

#generate subgroup_gemm(TM=64, TN=4, name=conv_fwd, aKind=patch, order=cols)

// Output channels in 64s: 32 rows x 64 columns a subgroup. The same 12 loads and 1024 lane-FMAs per 4-wide k step
// as 64 x 32, but half the broadcasts (one per row).
#generate subgroup_gemm(TM=32, TN=8, name=conv_fwd32x8, aKind=patch, order=cols)

// The forward with the OHWI weights copied into the texture as they are (B transposed).
#generate subgroup_gemm(TM=32, TN=8, name=conv_fwdT32x8, aKind=patch, bKind=denseT, order=cols)

// The weight gradient's A (dY^T) is packed with 8 rows side by side (see 'lanes' in src/gpu/subgroup-gemm.ts).
#generate subgroup_gemm(TM=64, TN=4, name=conv_dw, aKind=lanes, bKind=patch)

#generate subgroup_gemm(TM=64, TN=4, name=conv_dw_row4, aKind=lanes, bKind=patch4)

// C in 64s: the weight gradient on 32 x 64 tiles too (a lane's 8 columns are two tap texels).
#generate subgroup_gemm(TM=32, TN=8, name=conv_dw32x8, aKind=lanes, bKind=patch)

#generate subgroup_gemm(TM=32, TN=8, name=conv_dw32x8_row4, aKind=lanes, bKind=patch4)

// Two k steps per loop iteration (see kSteps in src/gpu/subgroup-gemm.ts), where `saln tune` finds them faster on
// this machine: the stride-1 input gradient (and the forward where B is not the copied weights), and the weight
// gradients.
#generate subgroup_gemm(TM=32, TN=8, name=conv_fwd32x8_k2, aKind=patch, order=cols, kSteps=2)

#generate subgroup_gemm(TM=32, TN=8, name=conv_dw32x8_k2, aKind=lanes, bKind=patch, kSteps=2)

#generate subgroup_gemm(TM=32, TN=8, name=conv_dw32x8_row4_k2, aKind=lanes, bKind=patch4, kSteps=2)
