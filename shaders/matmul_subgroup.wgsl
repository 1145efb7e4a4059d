// Hand-written header; each #generate line stands for a kernel unrolled at load time by src/gpu/subgroup-gemm.ts.
//
// Texture matmul with subgroup-shared A rows, for adapters whose subgroups are exactly 8 lanes (llvmpipe with
// 256-bit vectors). Found by reading llvmpipe's machine code: every textureLoad is an out-of-line call that
// spills all live registers, so the cost is the number of loads per FMA (with the loads hoisted out of the loop,
// the same kernel runs 2.5x faster). The operands are read-only storage textures: see
// src/gpu/subgroup-gemm.ts for why image loads beat sampled fetches there. A subgroup of 8 lanes computes a block
// of TM rows x 32 columns: lane l owns 4 columns and loads its own B texels; the TM A rows are loaded 8 rows per
// call (lane l loads row 8j + l) and handed to every lane with subgroupBroadcast, which compiles to register
// permutes. 12 loads per 1024 lane-FMAs, against 24 per 512 for texture16x8 in matmul.wgsl.
// Operands are packed as in matmul.wgsl: A texel (k/4, batch*strideA + row), B texel (n/4, batch*strideB + k),
// zero-padded, so only the stores are guarded. Kept out of matmul.wgsl: 'enable subgroups' would stop that
// whole module compiling on adapters without the feature.
enable subgroups;
// Spare subgroups return before the loop, which the uniformity analysis cannot prove safe: see 'spare' in
// src/gpu/subgroup-gemm.ts.
diagnostic(off, subgroup_uniformity);

// Lanes per workgroup, a multiple of 8: small problems use fewer so that no subgroup idles through a block.
override WG_LANES: u32 = 64u;

struct Dims {
  M: u32, N: u32, K: u32,
  Kp: u32, Np: u32,
  strideA: u32,   // texture rows per batch of A (0: A broadcast over the batch)
  strideB: u32,   // texture rows per batch of B
  strideC: u32,
  tilesN: u32, tilesM: u32,
  transA: u32, transB: u32,   // unused here: operands arrive packed
}

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(5) var<storage, read_write> c: array<f32>;
@group(0) @binding(6) var aTex: texture_storage_2d<rgba32float, read>;
@group(0) @binding(7) var bTex: texture_storage_2d<rgba32float, read>;

#import store4

#generate subgroup_gemm(TM=64, TN=4, order=cols)

#generate subgroup_gemm(TM=32, TN=4)
