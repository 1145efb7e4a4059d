// Fill a buffer with a constant (a flat pass, see shaders/lib/flat_span.wgsl; zeros are the queue's clear), and
// gather rows. Copies are the queue's copyBufferToBuffer (src/ops/fill.ts).

struct Params { n: u32, value: f32, rowLen: u32 }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

const WG = 256u;

#import flat_span(WG=256u)

@compute @workgroup_size(256)
fn fill(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let s = flatSpan(gid, groups, params.n);
  for (var i = s.x; i < s.y; i += 8u) { dst[i] = params.value; }
}

// out[r] = src[index[r]] for rows of `rowLen` elements (a selector's kept samples out of a super-batch).
@group(0) @binding(3) var<storage, read> rowIndex: array<u32>;

@compute @workgroup_size(256)
fn gather_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.x + gid.y * groups.x * WG;
  if (i >= params.n) { return; }
  dst[i] = src[rowIndex[i / params.rowLen] * params.rowLen + i % params.rowLen];
}
