// Packs a matmul operand for the kernels that read it without bounds checks: optional transpose, zero padding
// to (rowsPadded x colsPadded), into a buffer or an rgba32f texture (batches stacked vertically).

struct Pack {
  rows: u32, cols: u32,             // logical operand (after the transpose), or the slab of it being packed
  rowsPadded: u32, colsPadded: u32, // colsPadded is a multiple of 4
  trans: u32,                       // source is stored cols x rows
  srcStride: u32,                   // elements between batches of the source
  batch: u32,
  srcLd: u32,                       // elements between consecutive stored rows of the source
  rowOffset: u32, colOffset: u32,   // where the slab starts in the logical operand
  srcLimit: u32,                    // elements of the source that exist: a ragged last batch reads zeros past it
  lanes: u32,                       // 1: each 8 rows side by side (the subgroup GEMMs' 'lanes' operand); rowsPadded % 8 == 0
}

@group(0) @binding(0) var<uniform> pack: Pack;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<vec4<f32>>;
@group(0) @binding(3) var dstTex: texture_storage_2d<rgba32float, write>;

fn element(batch: u32, r: u32, c: u32) -> f32 {
  if (r >= pack.rows || c >= pack.cols) { return 0.0; }
  let base = batch * pack.srcStride;
  let lr = r + pack.rowOffset;
  let lc = c + pack.colOffset;
  var at = base + lr * pack.srcLd + lc;
  if (pack.trans != 0u) { at = base + lc * pack.srcLd + lr; }
  if (at >= pack.srcLimit) { return 0.0; }
  return src[at];
}

// Where texel c4 of row r of a batch is stored: row-major, or with 8 consecutive rows side by side, so that a
// subgroup's 8 lanes reading rows r..r+7 at one k load 8 adjacent texels.
fn texelAt(batch: u32, r: u32, c4: u32) -> vec2<u32> {
  let y = batch * pack.rowsPadded + r;
  if (pack.lanes == 0u) { return vec2<u32>(c4, y); }
  return vec2<u32>(c4 * 8u + y % 8u, y / 8u);
}

fn texel(batch: u32, r: u32, c4: u32) -> vec4<f32> {
  let c = c4 * 4u;
  return vec4<f32>(element(batch, r, c), element(batch, r, c + 1u), element(batch, r, c + 2u), element(batch, r, c + 3u));
}

// One invocation per output texel; a 1-D grid folded into 2-D by the launcher. Returns (batch, row, texel
// column, flat texel index), or batch = pack.batch for invocations past the end.
fn texelOf(gid: vec3<u32>, groups: vec3<u32>) -> vec4<u32> {
  let i = gid.x + gid.y * groups.x * 64u;
  let c4s = pack.colsPadded / 4u;
  let perBatch = pack.rowsPadded * c4s;
  let rest = i % perBatch;
  return vec4<u32>(min(i / perBatch, pack.batch), rest / c4s, rest % c4s, i);
}

@compute @workgroup_size(64)
fn to_buffer(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let t = texelOf(gid, groups);
  if (t.x < pack.batch) { dst[t.w] = texel(t.x, t.y, t.z); }
}

@compute @workgroup_size(64)
fn to_texture(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let t = texelOf(gid, groups);
  if (t.x < pack.batch) { textureStore(dstTex, texelAt(t.x, t.y, t.z), texel(t.x, t.y, t.z)); }
}

// Transposed sources with 4-aligned strides: one invocation moves a 4x4 block, reading four vec4 rows of the
// stored matrix and writing four texels, 4 loads instead of 16 per-lane scalar loads (what llvmpipe pays for).
@group(0) @binding(4) var<storage, read> src4: array<vec4<f32>>;

fn storedRow(batch: u32, lc: u32, lr: u32) -> vec4<f32> {
  if (lc >= pack.cols + pack.colOffset) { return vec4<f32>(0.0); }
  let at = batch * pack.srcStride + lc * pack.srcLd + lr;
  if (at >= pack.srcLimit) { return vec4<f32>(0.0); }
  return src4[at / 4u];
}

@compute @workgroup_size(64)
fn to_texture_t4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.x + gid.y * groups.x * 64u;
  let c4s = pack.colsPadded / 4u;
  let r4s = pack.rowsPadded / 4u;
  let perBatch = r4s * c4s;
  let batch = i / perBatch;
  if (batch >= pack.batch) { return; }
  let rest = i % perBatch;
  let r4 = rest / c4s;
  let c4 = rest % c4s;
  let lr = pack.rowOffset + r4 * 4u;
  let lc = pack.colOffset + c4 * 4u;
  // Row j of the block comes from stored rows lc..lc+3 (logical columns), component j of each.
  let v0 = storedRow(batch, lc, lr);
  let v1 = storedRow(batch, lc + 1u, lr);
  let v2 = storedRow(batch, lc + 2u, lr);
  let v3 = storedRow(batch, lc + 3u, lr);
  for (var j = 0u; j < 4u; j++) {
    var t = vec4<f32>(v0[j], v1[j], v2[j], v3[j]);
    if (r4 * 4u + j >= pack.rows) { t = vec4<f32>(0.0); }
    textureStore(dstTex, texelAt(batch, r4 * 4u + j, c4), t);
  }
}
