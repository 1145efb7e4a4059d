// Pooling on NHWC activations: max-pool (PyTorch semantics: padding counts as -inf, output size
// floor((H + 2p - k) / s) + 1) with its arg-max for the backward, and global average pooling [N,H,W,C] -> [N,C].

struct Params {
  batch: u32,
  inH: u32,
  inW: u32,
  channels: u32,
  outH: u32,
  outW: u32,
  kernelH: u32,
  kernelW: u32,
  strideH: u32,
  strideW: u32,
  padH: u32,
  padW: u32,
  total: u32,          // elements the elementwise entries cover (max_backward: pixels)
  channelTile: u32,    // global average pool: channels per workgroup
  rowLanes: u32,       // global average pool: floor(256 / channelTile) invocations share the H*W rows
  scale: f32,          // 1 / (H * W)
}

@group(0) @binding(0) var<uniform> params: Params;

#import flat_index(WG=256u)
#import nhwc

// ---- forward passes (max and average): x in, y out (max-pool also keeps its arg-max for the backward) --------
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<storage, read_write> argmaxOut: array<u32>;

// One invocation per output element. The arg-max is the spatial index h * W + w within the (n, c) plane, as
// PyTorch's return_indices; ties keep the first maximum in row-major window order (strict >).
@compute @workgroup_size(256)
fn max_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flatIndex(gid, groups);
  if (i >= params.total) { return; }
  let pos = nhwcOf(i, params.outH, params.outW, params.channels);   // (n, oh, ow, c)
  let h0 = i32(pos.y * params.strideH) - i32(params.padH);
  let w0 = i32(pos.z * params.strideW) - i32(params.padW);
  var best = 0.0;
  var bestAt = 0u;
  var found = false;
  for (var kh = 0u; kh < params.kernelH; kh++) {
    let h = h0 + i32(kh);
    if (h < 0 || h >= i32(params.inH)) { continue; }
    for (var kw = 0u; kw < params.kernelW; kw++) {
      let w = w0 + i32(kw);
      if (w < 0 || w >= i32(params.inW)) { continue; }
      let at = u32(h) * params.inW + u32(w);
      let v = x[(pos.x * params.inH * params.inW + at) * params.channels + pos.w];
      if (!found || v > best) {
        best = v;
        bestAt = at;
        found = true;
      }
    }
  }
  y[i] = best;
  argmaxOut[i] = bestAt;
}

// ---- backward passes: dy in (max-pool also reads the arg-max its forward kept), dx out ------------------------
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read> argmax: array<u32>;
@group(0) @binding(6) var<storage, read_write> dx: array<f32>;

// Gather, one invocation per input pixel (n, h, w) walking its channels: sums dy over the windows that contain
// the pixel and chose it. The window range is found once per pixel, not once per element (llvmpipe has no vector
// integer division: 13.8 -> 9.6 ms in the 28x28 training step), and channels go four at a time when C is a
// multiple of 4 (max_backward4). No float atomics, and each sum runs in a fixed order (output row, then column),
// so the result is deterministic. `total` counts pixels here.
struct PoolWindows { at: u32, imageOut: u32, ohLo: u32, ohHi: u32, owLo: u32, owHi: u32 }

fn windowsOf(p: u32) -> PoolWindows {
  let pos = nhwcOf(p, params.inH, params.inW, 1u);   // (n, h, w, 0)
  // Window oh covers input rows [oh*s - p, oh*s - p + k - 1].
  let hp = pos.y + params.padH;
  let wp = pos.z + params.padW;
  var ohLo = 0u;
  if (hp + 1u > params.kernelH) { ohLo = (hp + 1u - params.kernelH + params.strideH - 1u) / params.strideH; }
  var owLo = 0u;
  if (wp + 1u > params.kernelW) { owLo = (wp + 1u - params.kernelW + params.strideW - 1u) / params.strideW; }
  let ohHi = min(hp / params.strideH, params.outH - 1u);
  let owHi = min(wp / params.strideW, params.outW - 1u);
  return PoolWindows(pos.y * params.inW + pos.z, pos.x * params.outH, ohLo, ohHi, owLo, owHi);
}

@group(0) @binding(7) var<storage, read> dy4: array<vec4<f32>>;
@group(0) @binding(8) var<storage, read> argmax4: array<vec4<u32>>;
@group(0) @binding(9) var<storage, read_write> dx4: array<vec4<f32>>;
#import max_backward(T=f32, U=u32, S=)
#import max_backward(T=vec4f, U=vec4u, S=4)

var<workgroup> laneSum: array<f32, 256>;

// Global average pool: workgroup (channel tile, image); lanes split the H*W rows of their channel, then a tree.
@compute @workgroup_size(256)
fn avg_forward(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let t = lid.x;
  let rowLane = t / params.channelTile;
  let c = wid.x * params.channelTile + t % params.channelTile;
  let n = wid.y;
  let inRange = rowLane < params.rowLanes && c < params.channels;
  let plane = params.inH * params.inW;
  var acc = 0.0;
  if (inRange) {
    for (var r = rowLane; r < plane; r += params.rowLanes) { acc += x[(n * plane + r) * params.channels + c]; }
  }
  laneSum[t] = acc;
  workgroupBarrier();
  var half = 1u;
  while (half < params.rowLanes) { half *= 2u; }
  for (half = half / 2u; half > 0u; half /= 2u) {
    if (rowLane < half && rowLane + half < params.rowLanes) { laneSum[t] += laneSum[t + half * params.channelTile]; }
    workgroupBarrier();
  }
  if (inRange && rowLane == 0u) { y[n * params.channels + c] = laneSum[t] * params.scale; }
}

@compute @workgroup_size(256)
fn avg_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flatIndex(gid, groups);
  if (i >= params.total) { return; }
  let pos = nhwcOf(i, params.inH, params.inW, params.channels);
  dx[i] = dy[pos.x * params.channels + pos.w] * params.scale;
}
