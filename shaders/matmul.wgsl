// Batched matrix multiply C[b] = A[b] . B[b], A: M x K, B: K x N, C: M x N, all row-major f32.
// Several designs, because the best one depends on the adapter (src/ops/matmul.ts picks by measuring):
//  - tiled:   64x64 workgroup tile staged in workgroup memory, 4x4 outputs per invocation. The design for real
//             GPUs, where workgroup memory and barriers are cheap. Reads the raw operands (transposes and ragged
//             edges handled by guarded loads into workgroup memory), so it needs no packing pass.
//  - regtile: 4x8 outputs per invocation straight from storage buffers with vec4 loads; no barriers.
//  - naive:   1x4 outputs per invocation; the baseline.
//  - texture: operands read through rgba32f textures. llvmpipe vectorizes texel fetches across lanes while
//             per-lane buffer loads are gathered one by one, so on lavapipe this is the fastest by 2x.
// regtile, naive and texture read operands packed by `pack_*` (transposed if asked, zero-padded to the tile):
// the padding removes every bounds check from the inner loops; only the final stores are guarded.

struct Dims {
  M: u32, N: u32, K: u32,
  Kp: u32,        // padded K of packed operands (multiple of 4)
  Np: u32,        // padded N of packed B (multiple of the tile width)
  strideA: u32,   // elements between batches of (packed) A; 0 broadcasts A over the batch
  strideB: u32,
  strideC: u32,
  tilesN: u32,    // output tiles along N
  tilesM: u32,    // output tiles along M
  transA: u32,    // tiled only: A is stored K x M
  transB: u32,    // tiled only: B is stored N x K
}

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> a4: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> b4: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> c: array<f32>;
@group(0) @binding(6) var aTex: texture_2d<f32>;
@group(0) @binding(7) var bTex: texture_2d<f32>;

#import store4
#import tiled_gemm_tiles

// Tile numbers of a one-dimensional grid of `wg`-wide workgroups folded into x and y (one invocation per output
// tile, numbered row-major): (column tile, row tile).
fn outputTile(gid: vec3<u32>, groups: vec3<u32>, wg: u32) -> vec2<u32> {
  let tile = gid.x + gid.y * groups.x * wg;
  return vec2<u32>(tile % dims.tilesN, tile / dims.tilesN);
}

// acc + av.x b0 + av.y b1 + av.z b2 + av.w b3 as four FMAs in that order: one row of a 4-wide k step of the unrolled
// kernels below (each accumulator sees the same sequence of roundings as when the FMAs were written out).
fn fma4(av: vec4<f32>, b0: vec4<f32>, b1: vec4<f32>, b2: vec4<f32>, b3: vec4<f32>, acc: vec4<f32>) -> vec4<f32> {
  return fma(vec4(av.w), b3, fma(vec4(av.z), b2, fma(vec4(av.y), b1, fma(vec4(av.x), b0, acc))));
}

// ---- naive: one row, four columns per invocation --------------------------------------------------------------
@compute @workgroup_size(64)
fn naive(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let np4 = dims.Np / 4u;
  let index = gid.x + gid.y * groups.x * 64u;   // 1-D grid, folded into 2-D when large
  let col4 = index % np4;
  let row = index / np4;
  if (row >= dims.M) { return; }
  let batch = gid.z;
  let k4 = dims.Kp / 4u;
  let aBase = batch * dims.strideA / 4u + row * k4;
  let bBase = batch * dims.strideB / 4u + col4;
  var acc = vec4<f32>(0.0);
  for (var k = 0u; k < k4; k++) {
    let av = a4[aBase + k];
    let bRow = bBase + 4u * k * np4;
    acc = fma(vec4<f32>(av.x), b4[bRow], acc);
    acc = fma(vec4<f32>(av.y), b4[bRow + np4], acc);
    acc = fma(vec4<f32>(av.z), b4[bRow + 2u * np4], acc);
    acc = fma(vec4<f32>(av.w), b4[bRow + 3u * np4], acc);
  }
  store4(batch * dims.strideC, row, col4 * 4u, acc);
}

// ---- regtile: 4 rows x 8 columns per invocation, vec4 loads, no workgroup memory -----------------------------
@compute @workgroup_size(16)
fn regtile(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let tile = outputTile(gid, groups, 16u);   // (column tile, row tile)
  if (tile.y >= dims.tilesM) { return; }
  let batch = gid.z;
  let np4 = dims.Np / 4u;
  let k4 = dims.Kp / 4u;
  let row0 = tile.y * 4u;
  // Rows past M read row M-1 (valid memory); their results are never stored.
  let lastRow = dims.M - 1u;
  let aBatch = batch * dims.strideA / 4u;
  let a0 = aBatch + min(row0, lastRow) * k4;
  let a1 = aBatch + min(row0 + 1u, lastRow) * k4;
  let a2 = aBatch + min(row0 + 2u, lastRow) * k4;
  let a3 = aBatch + min(row0 + 3u, lastRow) * k4;
  let bBase = batch * dims.strideB / 4u + tile.x * 2u;
  var c00 = vec4<f32>(0.0); var c01 = vec4<f32>(0.0);
  var c10 = vec4<f32>(0.0); var c11 = vec4<f32>(0.0);
  var c20 = vec4<f32>(0.0); var c21 = vec4<f32>(0.0);
  var c30 = vec4<f32>(0.0); var c31 = vec4<f32>(0.0);
  for (var k = 0u; k < k4; k++) {
    let r = bBase + 4u * k * np4;
    let b00 = b4[r]; let b01 = b4[r + 1u];
    let b10 = b4[r + np4]; let b11 = b4[r + np4 + 1u];
    let b20 = b4[r + 2u * np4]; let b21 = b4[r + 2u * np4 + 1u];
    let b30 = b4[r + 3u * np4]; let b31 = b4[r + 3u * np4 + 1u];
    var av = a4[a0 + k];
    c00 = fma4(av, b00, b10, b20, b30, c00); c01 = fma4(av, b01, b11, b21, b31, c01);
    av = a4[a1 + k];
    c10 = fma4(av, b00, b10, b20, b30, c10); c11 = fma4(av, b01, b11, b21, b31, c11);
    av = a4[a2 + k];
    c20 = fma4(av, b00, b10, b20, b30, c20); c21 = fma4(av, b01, b11, b21, b31, c21);
    av = a4[a3 + k];
    c30 = fma4(av, b00, b10, b20, b30, c30); c31 = fma4(av, b01, b11, b21, b31, c31);
  }
  let cBase = batch * dims.strideC;
  let col = tile.x * 8u;
  store4(cBase, row0, col, c00); store4(cBase, row0, col + 4u, c01);
  store4(cBase, row0 + 1u, col, c10); store4(cBase, row0 + 1u, col + 4u, c11);
  store4(cBase, row0 + 2u, col, c20); store4(cBase, row0 + 2u, col + 4u, c21);
  store4(cBase, row0 + 3u, col, c30); store4(cBase, row0 + 3u, col + 4u, c31);
}

// ---- texture: 16 rows x 8 columns per invocation, operands as rgba32f texels --------------------------------
// A texture: texel (k/4, batch*Mp + row) holds A[row, k..k+3]; B texture: texel (n/4, batch*Kp + k) holds
// B[k, n..n+3]. Both zero-padded, so no load is guarded.
@compute @workgroup_size(64)
fn texture16x8(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let tile = outputTile(gid, groups, 64u);   // (column tile, row tile)
  if (tile.y >= dims.tilesM) { return; }
  let batch = gid.z;
  let row0 = tile.y * 16u;
  let aRow = i32(batch * dims.strideA + row0);
  let bRow = i32(batch * dims.strideB);
  let bCol = i32(tile.x * 2u);
  var c0_0 = vec4<f32>(0.0); var c0_1 = vec4<f32>(0.0);
  var c1_0 = vec4<f32>(0.0); var c1_1 = vec4<f32>(0.0);
  var c2_0 = vec4<f32>(0.0); var c2_1 = vec4<f32>(0.0);
  var c3_0 = vec4<f32>(0.0); var c3_1 = vec4<f32>(0.0);
  var c4_0 = vec4<f32>(0.0); var c4_1 = vec4<f32>(0.0);
  var c5_0 = vec4<f32>(0.0); var c5_1 = vec4<f32>(0.0);
  var c6_0 = vec4<f32>(0.0); var c6_1 = vec4<f32>(0.0);
  var c7_0 = vec4<f32>(0.0); var c7_1 = vec4<f32>(0.0);
  var c8_0 = vec4<f32>(0.0); var c8_1 = vec4<f32>(0.0);
  var c9_0 = vec4<f32>(0.0); var c9_1 = vec4<f32>(0.0);
  var c10_0 = vec4<f32>(0.0); var c10_1 = vec4<f32>(0.0);
  var c11_0 = vec4<f32>(0.0); var c11_1 = vec4<f32>(0.0);
  var c12_0 = vec4<f32>(0.0); var c12_1 = vec4<f32>(0.0);
  var c13_0 = vec4<f32>(0.0); var c13_1 = vec4<f32>(0.0);
  var c14_0 = vec4<f32>(0.0); var c14_1 = vec4<f32>(0.0);
  var c15_0 = vec4<f32>(0.0); var c15_1 = vec4<f32>(0.0);
  let k4 = i32(dims.Kp / 4u);
  for (var k = 0; k < k4; k++) {
    let kr = bRow + 4 * k;
    let b0_0 = textureLoad(bTex, vec2<i32>(bCol + 0, kr + 0), 0); let b0_1 = textureLoad(bTex, vec2<i32>(bCol + 1, kr + 0), 0);
    let b1_0 = textureLoad(bTex, vec2<i32>(bCol + 0, kr + 1), 0); let b1_1 = textureLoad(bTex, vec2<i32>(bCol + 1, kr + 1), 0);
    let b2_0 = textureLoad(bTex, vec2<i32>(bCol + 0, kr + 2), 0); let b2_1 = textureLoad(bTex, vec2<i32>(bCol + 1, kr + 2), 0);
    let b3_0 = textureLoad(bTex, vec2<i32>(bCol + 0, kr + 3), 0); let b3_1 = textureLoad(bTex, vec2<i32>(bCol + 1, kr + 3), 0);
    let a0 = textureLoad(aTex, vec2<i32>(k, aRow + 0), 0);
    c0_0 = fma4(a0, b0_0, b1_0, b2_0, b3_0, c0_0); c0_1 = fma4(a0, b0_1, b1_1, b2_1, b3_1, c0_1);
    let a1 = textureLoad(aTex, vec2<i32>(k, aRow + 1), 0);
    c1_0 = fma4(a1, b0_0, b1_0, b2_0, b3_0, c1_0); c1_1 = fma4(a1, b0_1, b1_1, b2_1, b3_1, c1_1);
    let a2 = textureLoad(aTex, vec2<i32>(k, aRow + 2), 0);
    c2_0 = fma4(a2, b0_0, b1_0, b2_0, b3_0, c2_0); c2_1 = fma4(a2, b0_1, b1_1, b2_1, b3_1, c2_1);
    let a3 = textureLoad(aTex, vec2<i32>(k, aRow + 3), 0);
    c3_0 = fma4(a3, b0_0, b1_0, b2_0, b3_0, c3_0); c3_1 = fma4(a3, b0_1, b1_1, b2_1, b3_1, c3_1);
    let a4 = textureLoad(aTex, vec2<i32>(k, aRow + 4), 0);
    c4_0 = fma4(a4, b0_0, b1_0, b2_0, b3_0, c4_0); c4_1 = fma4(a4, b0_1, b1_1, b2_1, b3_1, c4_1);
    let a5 = textureLoad(aTex, vec2<i32>(k, aRow + 5), 0);
    c5_0 = fma4(a5, b0_0, b1_0, b2_0, b3_0, c5_0); c5_1 = fma4(a5, b0_1, b1_1, b2_1, b3_1, c5_1);
    let a6 = textureLoad(aTex, vec2<i32>(k, aRow + 6), 0);
    c6_0 = fma4(a6, b0_0, b1_0, b2_0, b3_0, c6_0); c6_1 = fma4(a6, b0_1, b1_1, b2_1, b3_1, c6_1);
    let a7 = textureLoad(aTex, vec2<i32>(k, aRow + 7), 0);
    c7_0 = fma4(a7, b0_0, b1_0, b2_0, b3_0, c7_0); c7_1 = fma4(a7, b0_1, b1_1, b2_1, b3_1, c7_1);
    let a8 = textureLoad(aTex, vec2<i32>(k, aRow + 8), 0);
    c8_0 = fma4(a8, b0_0, b1_0, b2_0, b3_0, c8_0); c8_1 = fma4(a8, b0_1, b1_1, b2_1, b3_1, c8_1);
    let a9 = textureLoad(aTex, vec2<i32>(k, aRow + 9), 0);
    c9_0 = fma4(a9, b0_0, b1_0, b2_0, b3_0, c9_0); c9_1 = fma4(a9, b0_1, b1_1, b2_1, b3_1, c9_1);
    let a10 = textureLoad(aTex, vec2<i32>(k, aRow + 10), 0);
    c10_0 = fma4(a10, b0_0, b1_0, b2_0, b3_0, c10_0); c10_1 = fma4(a10, b0_1, b1_1, b2_1, b3_1, c10_1);
    let a11 = textureLoad(aTex, vec2<i32>(k, aRow + 11), 0);
    c11_0 = fma4(a11, b0_0, b1_0, b2_0, b3_0, c11_0); c11_1 = fma4(a11, b0_1, b1_1, b2_1, b3_1, c11_1);
    let a12 = textureLoad(aTex, vec2<i32>(k, aRow + 12), 0);
    c12_0 = fma4(a12, b0_0, b1_0, b2_0, b3_0, c12_0); c12_1 = fma4(a12, b0_1, b1_1, b2_1, b3_1, c12_1);
    let a13 = textureLoad(aTex, vec2<i32>(k, aRow + 13), 0);
    c13_0 = fma4(a13, b0_0, b1_0, b2_0, b3_0, c13_0); c13_1 = fma4(a13, b0_1, b1_1, b2_1, b3_1, c13_1);
    let a14 = textureLoad(aTex, vec2<i32>(k, aRow + 14), 0);
    c14_0 = fma4(a14, b0_0, b1_0, b2_0, b3_0, c14_0); c14_1 = fma4(a14, b0_1, b1_1, b2_1, b3_1, c14_1);
    let a15 = textureLoad(aTex, vec2<i32>(k, aRow + 15), 0);
    c15_0 = fma4(a15, b0_0, b1_0, b2_0, b3_0, c15_0); c15_1 = fma4(a15, b0_1, b1_1, b2_1, b3_1, c15_1);
  }
  let cBase = batch * dims.strideC;
  let col = tile.x * 8u;
  store4(cBase, row0 + 0u, col + 0u, c0_0); store4(cBase, row0 + 0u, col + 4u, c0_1);
  store4(cBase, row0 + 1u, col + 0u, c1_0); store4(cBase, row0 + 1u, col + 4u, c1_1);
  store4(cBase, row0 + 2u, col + 0u, c2_0); store4(cBase, row0 + 2u, col + 4u, c2_1);
  store4(cBase, row0 + 3u, col + 0u, c3_0); store4(cBase, row0 + 3u, col + 4u, c3_1);
  store4(cBase, row0 + 4u, col + 0u, c4_0); store4(cBase, row0 + 4u, col + 4u, c4_1);
  store4(cBase, row0 + 5u, col + 0u, c5_0); store4(cBase, row0 + 5u, col + 4u, c5_1);
  store4(cBase, row0 + 6u, col + 0u, c6_0); store4(cBase, row0 + 6u, col + 4u, c6_1);
  store4(cBase, row0 + 7u, col + 0u, c7_0); store4(cBase, row0 + 7u, col + 4u, c7_1);
  store4(cBase, row0 + 8u, col + 0u, c8_0); store4(cBase, row0 + 8u, col + 4u, c8_1);
  store4(cBase, row0 + 9u, col + 0u, c9_0); store4(cBase, row0 + 9u, col + 4u, c9_1);
  store4(cBase, row0 + 10u, col + 0u, c10_0); store4(cBase, row0 + 10u, col + 4u, c10_1);
  store4(cBase, row0 + 11u, col + 0u, c11_0); store4(cBase, row0 + 11u, col + 4u, c11_1);
  store4(cBase, row0 + 12u, col + 0u, c12_0); store4(cBase, row0 + 12u, col + 4u, c12_1);
  store4(cBase, row0 + 13u, col + 0u, c13_0); store4(cBase, row0 + 13u, col + 4u, c13_1);
  store4(cBase, row0 + 14u, col + 0u, c14_0); store4(cBase, row0 + 14u, col + 4u, c14_1);
  store4(cBase, row0 + 15u, col + 0u, c15_0); store4(cBase, row0 + 15u, col + 4u, c15_1);
}


// ---- tiled: workgroup memory tiles for real GPUs ------------------------------------------------------------
fn loadA(batch: u32, row: u32, k: u32) -> f32 {
  if (row >= dims.M || k >= dims.K) { return 0.0; }
  let base = batch * dims.strideA;
  if (dims.transA != 0u) { return a[base + k * dims.M + row]; }
  return a[base + row * dims.K + k];
}

fn loadB(batch: u32, k: u32, col: u32) -> f32 {
  if (k >= dims.K || col >= dims.N) { return 0.0; }
  let base = batch * dims.strideB;
  if (dims.transB != 0u) { return b[base + col * dims.K + k]; }
  return b[base + k * dims.N + col];
}

#import tiled_gemm(ENTRY=tiled, LOAD_A=loadA, LOAD_B=loadB)
