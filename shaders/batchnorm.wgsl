// Batch normalisation over NHWC activations viewed as [rows = N*H*W, C], statistics per channel.
//
// Reductions over the rows run in two levels so that both extremes parallelise: C = 3 with 1.6M rows and
// C = 512 with 512 rows. A workgroup of 256 invocations covers `channelTile` channels of one chunk of rows:
// invocation t takes channel t % channelTile and row lane t / channelTile, so neighbouring invocations read
// neighbouring addresses of one row; each lane adds `rowsPerThread` rows in sequence, then the lanes of a
// channel meet in a tree. The per-chunk sums ([chunks, C]) are then summed per channel by a 64-invocation
// workgroup (strided share, then a tree). Every sum is deterministic, and its rounding chain is
// rowsPerThread + ceil(log2 rowLanes) + ceil(chunks / 64) + 6 additions long.
//
// Statistics are two-pass (mean, then the sum of squared deviations from it): E[x^2] - E[x]^2 cancels
// catastrophically when |mean| >> std, while the two-pass variance is insensitive to the mean's rounding
// error to first order (the cross term sum(x - mean) vanishes).

struct Params {
  rows: u32,           // N*H*W
  channels: u32,       // C
  channelTile: u32,    // channels one workgroup covers (<= 256)
  rowLanes: u32,       // floor(256 / channelTile): invocations that share the rows of a chunk
  rowsPerThread: u32,
  chunks: u32,         // ceil(rows / (rowLanes * rowsPerThread))
  total: u32,          // rows * channels, for the elementwise entries
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
@group(0) @binding(5) var<storage, read> mean: array<f32>;       // batch mean, or the running mean in eval
@group(0) @binding(6) var<storage, read> invStd: array<f32>;
@group(0) @binding(7) var<storage, read> variance: array<f32>;   // running variance (eval)
@group(0) @binding(8) var<storage, read> chunkSumIn: array<f32>;
@group(0) @binding(9) var<storage, read> chunkSum2In: array<f32>;
@group(0) @binding(10) var<storage, read> sumDy: array<f32>;      // dbeta, read back by the dx pass
@group(0) @binding(11) var<storage, read> sumDyXhat: array<f32>;  // dgamma, read back by the dx pass
@group(0) @binding(12) var<storage, read_write> chunkSum: array<f32>;
@group(0) @binding(13) var<storage, read_write> chunkSum2: array<f32>;
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

// dy through the fused ReLU: relu(z) > 0 exactly where z > 0.
fn gatedDy(i: u32) -> f32 {
  if (RELU && gate[i] <= 0.0) { return 0.0; }
  return dy[i];
}

const WG = 256u;
const FINAL_WG = 64u;
var<workgroup> laneSum: array<f32, 256>;
var<workgroup> laneSum2: array<f32, 256>;

struct Lane {
  channel: u32,
  rowLane: u32,
  inRange: bool,   // a real channel and a real row lane (256 need not divide evenly into channelTile)
  firstRow: u32,
}

// wid.x: chunk of rows; wid.y: tile of channels.
fn laneOf(t: u32, wid: vec3<u32>) -> Lane {
  let channelInTile = t % params.channelTile;
  let rowLane = t / params.channelTile;
  let channel = wid.y * params.channelTile + channelInTile;
  let inRange = rowLane < params.rowLanes && channel < params.channels;
  return Lane(channel, rowLane, inRange, wid.x * params.rowLanes * params.rowsPerThread + rowLane);
}

// Tree over the row lanes of each channel; both sums at once. Called in uniform control flow (it has barriers).
fn reduceRowLanes(t: u32, rowLane: u32, a: f32, b: f32) -> vec2<f32> {
  laneSum[t] = a;
  laneSum2[t] = b;
  workgroupBarrier();
  var half = 1u;
  while (half < params.rowLanes) { half *= 2u; }
  for (half = half / 2u; half > 0u; half /= 2u) {
    if (rowLane < half && rowLane + half < params.rowLanes) {
      let other = t + half * params.channelTile;
      laneSum[t] += laneSum[other];
      laneSum2[t] += laneSum2[other];
    }
    workgroupBarrier();
  }
  return vec2<f32>(laneSum[t], laneSum2[t]);
}

@compute @workgroup_size(256)
fn sum_partial(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let lane = laneOf(lid.x, wid);
  var acc = 0.0;
  if (lane.inRange) {
    for (var k = 0u; k < params.rowsPerThread; k++) {
      let row = lane.firstRow + k * params.rowLanes;
      if (row < params.rows) { acc += x[row * params.channels + lane.channel]; }
    }
  }
  let sums = reduceRowLanes(lid.x, lane.rowLane, acc, 0.0);
  if (lane.inRange && lane.rowLane == 0u) { chunkSum[wid.x * params.channels + lane.channel] = sums.x; }
}

@compute @workgroup_size(256)
fn sqdev_partial(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let lane = laneOf(lid.x, wid);
  var acc = 0.0;
  if (lane.inRange) {
    let m = mean[lane.channel];
    for (var k = 0u; k < params.rowsPerThread; k++) {
      let row = lane.firstRow + k * params.rowLanes;
      if (row < params.rows) {
        let d = x[row * params.channels + lane.channel] - m;
        acc += d * d;
      }
    }
  }
  let sums = reduceRowLanes(lid.x, lane.rowLane, acc, 0.0);
  if (lane.inRange && lane.rowLane == 0u) { chunkSum[wid.x * params.channels + lane.channel] = sums.x; }
}

// Backward partials: sum(dy) and sum(dy * xhat), xhat recomputed from the saved mean and inverse std.
@compute @workgroup_size(256)
fn grad_partial(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let lane = laneOf(lid.x, wid);
  var accDy = 0.0;
  var accDyXhat = 0.0;
  if (lane.inRange) {
    let m = mean[lane.channel];
    let s = invStd[lane.channel];
    for (var k = 0u; k < params.rowsPerThread; k++) {
      let row = lane.firstRow + k * params.rowLanes;
      if (row < params.rows) {
        let i = row * params.channels + lane.channel;
        let g = gatedDy(i);
        accDy += g;
        accDyXhat += g * ((x[i] - m) * s);
      }
    }
  }
  let sums = reduceRowLanes(lid.x, lane.rowLane, accDy, accDyXhat);
  if (lane.inRange && lane.rowLane == 0u) {
    chunkSum[wid.x * params.channels + lane.channel] = sums.x;
    chunkSum2[wid.x * params.channels + lane.channel] = sums.y;
  }
}

var<workgroup> finalSum: array<f32, 64>;
var<workgroup> finalSum2: array<f32, 64>;

// One workgroup per channel sums its column of the chunk partials: a strided share per invocation (in the
// entries, since each reads its own bindings), then this tree.
fn finalTree(t: u32, a: f32, b: f32) -> vec2<f32> {
  finalSum[t] = a;
  finalSum2[t] = b;
  workgroupBarrier();
  for (var half = FINAL_WG / 2u; half > 0u; half /= 2u) {
    if (t < half) {
      finalSum[t] += finalSum[t + half];
      finalSum2[t] += finalSum2[t + half];
    }
    workgroupBarrier();
  }
  return vec2<f32>(finalSum[0], finalSum2[0]);
}

fn chunkShare(t: u32, channel: u32) -> f32 {
  var a = 0.0;
  if (channel < params.channels) {
    for (var k = t; k < params.chunks; k += FINAL_WG) { a += chunkSumIn[k * params.channels + channel]; }
  }
  return a;
}

fn channelOf(wid: vec3<u32>, groups: vec3<u32>) -> u32 {
  return wid.x + wid.y * groups.x;
}

@compute @workgroup_size(64)
fn mean_finalize(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let c = channelOf(wid, groups);
  let total = finalTree(lid.x, chunkShare(lid.x, c), 0.0);
  if (c < params.channels && lid.x == 0u) { meanOut[c] = total.x * params.invCount; }
}

// Biased variance normalises (as PyTorch); the running estimate takes the unbiased one.
@compute @workgroup_size(64)
fn var_finalize(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let c = channelOf(wid, groups);
  let total = finalTree(lid.x, chunkShare(lid.x, c), 0.0);
  if (c < params.channels && lid.x == 0u) {
    let biased = total.x * params.invCount;
    invStdOut[c] = inverseSqrt(biased + params.eps);
    let keep = 1.0 - params.momentum;
    runningMean[c] = keep * runningMean[c] + params.momentum * mean[c];
    runningVar[c] = keep * runningVar[c] + params.momentum * (biased * params.unbias);
  }
}

@compute @workgroup_size(64)
fn grad_finalize(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let c = channelOf(wid, groups);
  var b = 0.0;
  if (c < params.channels) {
    for (var k = lid.x; k < params.chunks; k += FINAL_WG) { b += chunkSum2In[k * params.channels + c]; }
  }
  let total = finalTree(lid.x, chunkShare(lid.x, c), b);
  if (c < params.channels && lid.x == 0u) {
    dbeta[c] = total.x;
    dgamma[c] = total.y;
  }
}

fn flatIndex(gid: vec3<u32>, groups: vec3<u32>) -> u32 {
  return gid.x + gid.y * groups.x * WG;
}

// (x - mean) * invStd first: folding into x * scale + shift would cancel when |mean| >> std.
@compute @workgroup_size(256)
fn normalize(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flatIndex(gid, groups);
  if (i < params.total) {
    let c = i % params.channels;
    let v = (x[i] - mean[c]) * invStd[c] * gamma[c] + beta[c];
    y[i] = select(v, max(v, 0.0), RELU);
  }
}

@compute @workgroup_size(256)
fn normalize_eval(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flatIndex(gid, groups);
  if (i < params.total) {
    let c = i % params.channels;
    let v = (x[i] - mean[c]) * inverseSqrt(variance[c] + params.eps) * gamma[c] + beta[c];
    y[i] = select(v, max(v, 0.0), RELU);
  }
}

// dx = gamma * invStd * (dy - sum(dy)/n - xhat * sum(dy*xhat)/n): the training-mode gradient, where the
// batch statistics depend on x.
@compute @workgroup_size(256)
fn grad_input(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flatIndex(gid, groups);
  if (i < params.total) {
    let c = i % params.channels;
    let s = invStd[c];
    let xhat = (x[i] - mean[c]) * s;
    dx[i] = gamma[c] * s * (gatedDy(i) - sumDy[c] * params.invCount - xhat * (sumDyXhat[c] * params.invCount));
  }
}
