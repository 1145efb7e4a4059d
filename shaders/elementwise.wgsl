// Elementwise kernels. The operation is a pipeline-overridable constant, so each op compiles to its own
// branch-free pipeline while the shapes travel in uniforms (one pipeline serves every shape).

override OP: u32 = 0u;  // unary: 0 relu, 1 exp, 2 log, 3 sqrt, 4 neg, 5 abs, 6 square; binary: 0 add, 1 sub, 2 mul, 3 div, 4 max, 5 min

struct Params {
  n: u32,
  rank: u32,
  alpha: f32,
  beta: f32,
  outShapeLo: vec4<u32>,   // dimensions 0..3 of the (broadcast) output, innermost last
  outShapeHi: vec4<u32>,   // dimensions 4..7
  aStridesLo: vec4<u32>,   // element strides of `a` per output dimension, 0 where a is broadcast
  aStridesHi: vec4<u32>,
  bStridesLo: vec4<u32>,
  bStridesHi: vec4<u32>,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read_write> inout: array<f32>;

#import flat_index(WG=256u)
#import flat_span(WG=256u)

fn unaryOp(x: f32) -> f32 {
  switch OP {
    case 0u: { return max(x, 0.0); }
    case 1u: { return exp(x); }
    case 2u: { return log(x); }
    case 3u: { return sqrt(x); }
    case 4u: { return -x; }
    case 5u: { return abs(x); }
    default: { return x * x; }
  }
}

fn binaryOp(x: f32, y: f32) -> f32 {
  switch OP {
    case 0u: { return x + y; }
    case 1u: { return x - y; }
    case 2u: { return x * y; }
    case 3u: { return x / y; }
    case 4u: { return max(x, y); }
    default: { return min(x, y); }
  }
}

@compute @workgroup_size(256)
fn unary(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let s = flatSpan(gid, groups, params.n);
  for (var i = s.x; i < s.y; i += 8u) { out[i] = unaryOp(a[i]); }
}

// In place (relu on an activation that nothing else reads, say): saves a buffer.
@compute @workgroup_size(256)
fn unary_inplace(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let s = flatSpan(gid, groups, params.n);
  for (var i = s.x; i < s.y; i += 8u) { inout[i] = unaryOp(inout[i]); }
}

// Both operands already have the output's shape: no index arithmetic.
@compute @workgroup_size(256)
fn binary_same(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let s = flatSpan(gid, groups, params.n);
  for (var i = s.x; i < s.y; i += 8u) { out[i] = binaryOp(a[i], b[i]); }
}

fn dimOf(d: u32, lo: vec4<u32>, hi: vec4<u32>) -> u32 {
  if (d < 4u) { return lo[d]; }
  return hi[d - 4u];
}

@compute @workgroup_size(256)
fn binary_broadcast(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flatIndex(gid, groups);
  if (i >= params.n) { return; }
  var rest = i;
  var ia = 0u;
  var ib = 0u;
  for (var k = 0u; k < params.rank; k++) {
    let d = params.rank - 1u - k;
    let size = dimOf(d, params.outShapeLo, params.outShapeHi);
    let coord = rest % size;
    rest = rest / size;
    ia += coord * dimOf(d, params.aStridesLo, params.aStridesHi);
    ib += coord * dimOf(d, params.bStridesLo, params.bStridesHi);
  }
  out[i] = binaryOp(a[ia], b[ib]);
}

// out = alpha * a + beta * b (the optimizer's and the residual path's workhorse).
@compute @workgroup_size(256)
fn scale_add(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let s = flatSpan(gid, groups, params.n);
  for (var i = s.x; i < s.y; i += 8u) { out[i] = params.alpha * a[i] + params.beta * b[i]; }
}

// inout += alpha * a: gradient accumulation in place (a variable used twice, a parameter's gradient buffer).
@compute @workgroup_size(256)
fn accumulate(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let s = flatSpan(gid, groups, params.n);
  for (var i = s.x; i < s.y; i += 8u) { inout[i] = inout[i] + params.alpha * a[i]; }
}
