// Batched 2-D transpose [batch, rows, cols] -> [batch, cols, rows] through a 16x16 tile in workgroup memory,
// so that both the reads and the writes walk memory contiguously. The +1 column avoids bank conflicts.

struct Params { rows: u32, cols: u32 }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

var<workgroup> tile: array<array<f32, 17>, 16>;

@compute @workgroup_size(16, 16)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let base = wid.z * params.rows * params.cols;
  let r = wid.y * 16u + lid.y;
  let c = wid.x * 16u + lid.x;
  if (r < params.rows && c < params.cols) { tile[lid.y][lid.x] = x[base + r * params.cols + c]; }
  workgroupBarrier();
  let outRow = wid.x * 16u + lid.y;   // a column of the input
  let outCol = wid.y * 16u + lid.x;   // a row of the input
  if (outRow < params.cols && outCol < params.rows) { out[base + outRow * params.rows + outCol] = tile[lid.x][lid.y]; }
}
