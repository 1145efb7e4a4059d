// Batch normalisation over NHWC activations viewed as [rows = N*H*W, C], statistics per channel.
//
// One invocation per (channel, lane): it owns channel c = t % C and the contiguous rows
// [lane * rowsPerLane, (lane + 1) * rowsPerLane), and walks them with no division, no barrier and no workgroup
// memory. Neighbouring invocations hold neighbouring channels, so a subgroup reads consecutive addresses of a
// row. Why this shape: on lavapipe an integer division per element (i % C) is eight scalar divides, every
// per-channel parameter read per element a gather, and every barrier a switch between the coroutines that run a
// workgroup's subgroups; the old kernels (a 256-wide tree per chunk, then a 64-wide tree per channel) spent most
// of a ResNet step's batch-norm time on those, and ran 8 dispatches per layer where this runs 5.
//
// A reduction runs in two dispatches: each (channel, lane) sums its rows into partials[lane, c], and the pass
// that needs the total sums the `lanes` partials of its channel itself, in lane order. Every invocation of a
// channel adds the same values in the same order, so they agree exactly and nothing depends on scheduling.
// A lane sums its rows in blocks of BLOCK (a block's sum, then the blocks' sums): the longest chain of f32
// additions behind a total is BLOCK + ceil(rowsPerLane / BLOCK) + lanes, the plan's chainLength.
//
// Statistics are two-pass (mean, then the sum of squared deviations from it): E[x^2] - E[x]^2 cancels
// catastrophically when |mean| >> std, while the two-pass variance is insensitive to the mean's rounding
// error to first order (the cross term sum(x - mean) vanishes).

struct Params {
  rows: u32,           // N*H*W
  channels: u32,       // C
  lanes: u32,          // row ranges per channel (the partials per channel)
  rowsPerLane: u32,
  invCount: f32,       // 1 / rows
  eps: f32,
  momentum: f32,
  unbias: f32,         // rows / (rows - 1): the running variance is the unbiased estimate (PyTorch)
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read> gamma: array<f32>;
@group(0) @binding(4) var<storage, read> beta: array<f32>;
@group(0) @binding(5) var<storage, read> mean: array<f32>;       // saved batch mean (backward), running mean (eval)
@group(0) @binding(6) var<storage, read> invStd: array<f32>;
@group(0) @binding(7) var<storage, read> variance: array<f32>;   // running variance (eval)
@group(0) @binding(8) var<storage, read> sumsIn: array<f32>;     // [lanes, C] partial sums of x
@group(0) @binding(9) var<storage, read> squaresIn: array<f32>;  // [lanes, C] partial sums of (x - mean)^2
@group(0) @binding(10) var<storage, read> gradSumsIn: array<vec2<f32>>;  // [lanes, C] partial (sum dy, sum dy * xhat)
@group(0) @binding(12) var<storage, read_write> partial: array<f32>;
@group(0) @binding(13) var<storage, read_write> gradPartial: array<vec2<f32>>;
@group(0) @binding(14) var<storage, read_write> meanOut: array<f32>;
@group(0) @binding(15) var<storage, read_write> invStdOut: array<f32>;
@group(0) @binding(16) var<storage, read_write> runningMean: array<f32>;
@group(0) @binding(17) var<storage, read_write> runningVar: array<f32>;
@group(0) @binding(18) var<storage, read_write> y: array<f32>;
@group(0) @binding(19) var<storage, read_write> dx: array<f32>;
@group(0) @binding(20) var<storage, read_write> dgamma: array<f32>;
@group(0) @binding(21) var<storage, read_write> dbeta: array<f32>;
// The fused ReLU (RELU = true): the forward writes relu(bn(x)), and the backward reads that output as the gate
// of dy, so a block's BN + ReLU costs one pass each way instead of two. With RELU off the gate is never read.
@group(0) @binding(22) var<storage, read> gate: array<f32>;

override RELU: bool = false;

const BLOCK = 32u;

#import flat_index(WG=64u)

// dy through the fused ReLU: relu(z) > 0 exactly where z > 0.
fn gatedDy(i: u32) -> f32 {
  if (RELU && gate[i] <= 0.0) { return 0.0; }
  return dy[i];
}

// This invocation's channel, its first element and the element past its last, stepping by C; live is false for
// the spare invocations of the last workgroup.
struct Lane {
  channel: u32,
  lane: u32,
  first: u32,
  end: u32,
  live: bool,
}

fn laneOf(gid: vec3<u32>, groups: vec3<u32>) -> Lane {
  let t = flatIndex(gid, groups);
  let c = t % params.channels;
  let lane = t / params.channels;
  let firstRow = min(lane * params.rowsPerLane, params.rows);
  let endRow = min(firstRow + params.rowsPerLane, params.rows);
  return Lane(c, lane, firstRow * params.channels + c, endRow * params.channels + c, lane < params.lanes);
}

// A channel's totals of the [lanes, C] partials, in lane order (the same in every invocation of the channel).
fn sumOf(c: u32) -> f32 {
  var total = 0.0;
  for (var k = 0u; k < params.lanes; k++) { total += sumsIn[k * params.channels + c]; }
  return total;
}

fn squaresOf(c: u32) -> f32 {
  var total = 0.0;
  for (var k = 0u; k < params.lanes; k++) { total += squaresIn[k * params.channels + c]; }
  return total;
}

fn gradSumsOf(c: u32) -> vec2<f32> {
  var total = vec2<f32>(0.0);
  for (var k = 0u; k < params.lanes; k++) { total += gradSumsIn[k * params.channels + c]; }
  return total;
}

fn blockEnd(i: u32, l: Lane) -> u32 {
  return min(i + BLOCK * params.channels, l.end);
}

// This lane's blocked sum of x, or of (x - m)^2 when `squared`.
fn xSum(l: Lane, m: f32, squared: bool) -> f32 {
  var total = 0.0;
  for (var i = l.first; i < l.end; i = blockEnd(i, l)) {
    var part = 0.0;
    for (var j = i; j < blockEnd(i, l); j += params.channels) {
      let d = x[j] - m;
      part += select(x[j], d * d, squared);
    }
    total += part;
  }
  return total;
}

@compute @workgroup_size(64)
fn sum_partial(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let l = laneOf(gid, groups);
  if (l.live) { partial[l.lane * params.channels + l.channel] = xSum(l, 0.0, false); }
}

@compute @workgroup_size(64)
fn sqdev_partial(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let l = laneOf(gid, groups);
  if (l.live) { partial[l.lane * params.channels + l.channel] = xSum(l, sumOf(l.channel) * params.invCount, true); }
}

// Normalises with the batch statistics; lane 0 of each channel also stores the mean and inverse std the backward
// takes and updates the running statistics. Biased variance normalises (as PyTorch); the running estimate
// takes the unbiased one. (x - mean) * invStd first: folding into x * scale + shift would cancel when
// |mean| >> std.
@compute @workgroup_size(64)
fn normalize(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let l = laneOf(gid, groups);
  if (!l.live) { return; }
  let c = l.channel;
  let m = sumOf(c) * params.invCount;
  let biased = squaresOf(c) * params.invCount;
  let s = inverseSqrt(biased + params.eps);
  if (l.lane == 0u) {
    meanOut[c] = m;
    invStdOut[c] = s;
    let keep = 1.0 - params.momentum;
    runningMean[c] = keep * runningMean[c] + params.momentum * m;
    runningVar[c] = keep * runningVar[c] + params.momentum * (biased * params.unbias);
  }
  normalizeLane(l, m, s);
}

@compute @workgroup_size(64)
fn normalize_eval(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let l = laneOf(gid, groups);
  if (l.live) { normalizeLane(l, mean[l.channel], inverseSqrt(variance[l.channel] + params.eps)); }
}

// y = ((x - m) * s) * gamma + beta over this lane's rows, through the fused ReLU when RELU.
fn normalizeLane(l: Lane, m: f32, s: f32) {
  let g = gamma[l.channel];
  let b = beta[l.channel];
  for (var i = l.first; i < l.end; i += params.channels) {
    let v = (x[i] - m) * s * g + b;
    y[i] = select(v, max(v, 0.0), RELU);
  }
}

// Backward partials: sum(dy) and sum(dy * xhat), xhat recomputed from the saved mean and inverse std.
@compute @workgroup_size(64)
fn grad_partial(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let l = laneOf(gid, groups);
  if (!l.live) { return; }
  let m = mean[l.channel];
  let s = invStd[l.channel];
  var total = vec2<f32>(0.0);
  for (var i = l.first; i < l.end; i = blockEnd(i, l)) {
    var part = vec2<f32>(0.0);
    for (var j = i; j < blockEnd(i, l); j += params.channels) {
      let g = gatedDy(j);
      part += vec2<f32>(g, g * ((x[j] - m) * s));
    }
    total += part;
  }
  gradPartial[l.lane * params.channels + l.channel] = total;
}

// dx = gamma * invStd * (dy - sum(dy)/n - xhat * sum(dy*xhat)/n): the training-mode gradient, where the batch
// statistics depend on x. Lane 0 of each channel stores dbeta = sum(dy) and dgamma = sum(dy * xhat).
@compute @workgroup_size(64)
fn grad_input(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let l = laneOf(gid, groups);
  if (!l.live) { return; }
  let c = l.channel;
  let sums = gradSumsOf(c);
  let sumDy = sums.x;
  let sumDyXhat = sums.y;
  if (l.lane == 0u) {
    dbeta[c] = sumDy;
    dgamma[c] = sumDyXhat;
  }
  let m = mean[c];
  let s = invStd[c];
  let gs = gamma[c] * s;
  let a = sumDy * params.invCount;
  let b = sumDyXhat * params.invCount;
  for (var i = l.first; i < l.end; i += params.channels) {
    let xhat = (x[i] - m) * s;
    dx[i] = gs * (gatedDy(i) - a - xhat * b);
  }
}
