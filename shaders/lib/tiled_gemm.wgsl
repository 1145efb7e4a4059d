// The tiled GEMM for real GPUs (imported with `#import tiled_gemm(ENTRY=..., LOAD_A=..., LOAD_B=...)`): C = A . B
// with A M x K and B K x N given by the importing module's loaders, $LOAD_A(batch, row, k) and
// $LOAD_B(batch, k, col), which return 0 outside the operand (ragged edges, padding), so the loops need no
// bounds. A 64x64 output tile per 16x16 workgroup, staged through workgroup memory 16 k at a time, 4x4 outputs
// per invocation. The module declares `dims` (M, N, K, strideC) and `c`, and imports store4 and tiled_gemm_tiles
// (once, however many entries it makes).

@compute @workgroup_size(16, 16)
fn $ENTRY(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let batch = wid.z;
  let row0 = wid.y * TILE;
  let col0 = wid.x * TILE;
  let flat = lid.y * 16u + lid.x;
  var acc: array<vec4<f32>, 4>;
  for (var i = 0u; i < 4u; i++) { acc[i] = vec4<f32>(0.0); }
  for (var k0 = 0u; k0 < dims.K; k0 += TK) {
    // 256 invocations stage 64x16 of A and 16x64 of B: four elements each. Loads are guarded, not skipped,
    // so that every invocation reaches the barriers (uniform control flow).
    for (var j = 0u; j < 4u; j++) {
      let e = flat + 256u * j;
      let am = e % TILE; let ak = e / TILE;
      tileA[ak][am] = $LOAD_A(batch, row0 + am, k0 + ak);
    }
    let bk = flat / 16u; let bn4 = flat % 16u;
    let n = col0 + bn4 * 4u;
    tileB[bk][bn4] = vec4<f32>($LOAD_B(batch, k0 + bk, n), $LOAD_B(batch, k0 + bk, n + 1u),
                               $LOAD_B(batch, k0 + bk, n + 2u), $LOAD_B(batch, k0 + bk, n + 3u));
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk++) {
      let bv = tileB[kk][lid.x];
      for (var i = 0u; i < 4u; i++) {
        acc[i] = fma(vec4<f32>(tileA[kk][lid.y * 4u + i]), bv, acc[i]);
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    store4(batch * dims.strideC, row0 + lid.y * 4u + i, col0 + lid.x * 4u, acc[i]);
  }
}
