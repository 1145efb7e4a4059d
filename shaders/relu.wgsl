// ReLU backward and the residual path's fused add + ReLU. Elementwise, 1-D grids folded by the launcher.

struct Params { n: u32 }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;        // the ReLU's forward output (or its input)
@group(0) @binding(3) var<storage, read> a: array<f32>;
@group(0) @binding(4) var<storage, read> b: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;
@group(0) @binding(6) var<storage, read_write> inout: array<f32>;  // in-place variants: dy, or a

#import flat_span(WG=256u)

// select, not a product with a 0/1 mask: dy * 0 would turn an infinite dy into NaN where the unit is off.
@compute @workgroup_size(256)
fn relu_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let s = flatSpan(gid, groups, params.n);
  for (var i = s.x; i < s.y; i += 8u) { out[i] = select(0.0, dy[i], y[i] > 0.0); }
}

@compute @workgroup_size(256)
fn relu_backward_inplace(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let s = flatSpan(gid, groups, params.n);
  for (var i = s.x; i < s.y; i += 8u) { inout[i] = select(0.0, inout[i], y[i] > 0.0); }
}

@compute @workgroup_size(256)
fn add_relu(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let s = flatSpan(gid, groups, params.n);
  for (var i = s.x; i < s.y; i += 8u) { out[i] = max(a[i] + b[i], 0.0); }
}

@compute @workgroup_size(256)
fn add_relu_inplace(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let s = flatSpan(gid, groups, params.n);
  for (var i = s.x; i < s.y; i += 8u) { inout[i] = max(inout[i] + b[i], 0.0); }
}
