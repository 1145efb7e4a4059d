// Reductions over one axis of a tensor viewed as [outer, len, inner].
// rows:    inner == 1 (the reduced axis is contiguous): one workgroup per output, strided partials, then a tree
//          in workgroup memory. The tree keeps f32 sums accurate (pairwise, not one long running sum).
// strided: inner > 1: one invocation per output (or per 4 neighbouring outputs) walks the axis; neighbouring
//          invocations read neighbouring addresses.

override OP: u32 = 0u;  // 0 sum (times `scale`: mean), 1 max

struct Params { outer: u32, len: u32, inner: u32, scale: f32 }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> outIndex: array<u32>;

const WG = 64u;

#import flat_span(WG=64u)
var<workgroup> partial: array<f32, 64>;
var<workgroup> partialIndex: array<u32, 64>;

fn rowIndex(wid: vec3<u32>, groups: vec3<u32>) -> u32 {
  return wid.x + wid.y * groups.x;
}

@compute @workgroup_size(64)
fn rows(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let row = rowIndex(wid, groups);
  let inRange = row < params.outer;   // guard, do not return: every invocation must reach the barriers
  var acc = identity();
  if (inRange) {
    let base = row * params.len;
    for (var i = lid.x; i < params.len; i += WG) { acc = combine(acc, x[base + i]); }
  }
  partial[lid.x] = acc;
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half /= 2u) {
    if (lid.x < half) { partial[lid.x] = combine(partial[lid.x], partial[lid.x + half]); }
    workgroupBarrier();
  }
  if (inRange && lid.x == 0u) { out[row] = finish(partial[0]); }
}

// identity, combine and finish for floats, and the strided entry over floats and over vec4s of neighbouring
// outputs (strided4, when inner is a multiple of 4: a quarter of llvmpipe's per-lane load loops).
alias F4 = vec4<f32>;
@group(0) @binding(4) var<storage, read> x4: array<F4>;
@group(0) @binding(5) var<storage, read_write> out4: array<F4>;
#import reduce_strided(T=f32, S=)
#import reduce_strided(T=F4, S=4)

// Arg-max: the first index of the largest value (NaN never wins), like NumPy for finite input.
#import argmax(VALUES=partial, INDICES=partialIndex)

@compute @workgroup_size(64)
fn argmax_rows(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let row = rowIndex(wid, groups);
  let inRange = row < params.outer;
  var bestV = -3.4028234663852886e38;
  var bestI = 0xffffffffu;
  if (inRange) {
    let base = row * params.len;
    for (var i = lid.x; i < params.len; i += WG) {
      let v = x[base + i];
      if (better(v, i, bestV, bestI)) { bestV = v; bestI = i; }
    }
  }
  argmaxTree(lid.x, bestV, bestI);
  if (inRange && lid.x == 0u) { outIndex[row] = min(partialIndex[0], params.len - 1u); }
}

@compute @workgroup_size(64)
fn argmax_strided(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let o = gid.x + gid.y * groups.x * WG;
  if (o >= params.outer * params.inner) { return; }
  let base = (o / params.inner) * params.len * params.inner + o % params.inner;
  var bestV = -3.4028234663852886e38;
  var bestI = 0u;
  for (var i = 0u; i < params.len; i++) {
    let v = x[base + i * params.inner];
    if (v > bestV) { bestV = v; bestI = i; }
  }
  outIndex[o] = bestI;
}
