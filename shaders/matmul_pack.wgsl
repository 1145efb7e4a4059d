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
  if (pack.trans != 0u) { return src[base + lc * pack.srcLd + lr]; }
  return src[base + lr * pack.srcLd + lc];
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
  if (t.x < pack.batch) { textureStore(dstTex, vec2<u32>(t.z, t.x * pack.rowsPadded + t.y), texel(t.x, t.y, t.z)); }
}
