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
//
// Channels go four at a time (entries with the suffix 4) when C is a multiple of 4: an invocation then owns four
// neighbouring channels and moves vec4s, a quarter of llvmpipe's per-lane load loops. One piece of WGSL
// (shaders/lib/batchnorm_passes.wgsl) is imported for both; params.channels counts channels or groups of four.

struct Params {
  rows: u32,           // N*H*W
  channels: u32,       // C, or C / 4 for the vec4 entries
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

// The same tensors as vec4s of neighbouring channels (the entries with the suffix 4).
alias F4 = vec4<f32>;
@group(0) @binding(23) var<storage, read> x4: array<F4>;
@group(0) @binding(24) var<storage, read> dy4: array<F4>;
@group(0) @binding(25) var<storage, read> gamma4: array<F4>;
@group(0) @binding(26) var<storage, read> beta4: array<F4>;
@group(0) @binding(27) var<storage, read> mean4: array<F4>;
@group(0) @binding(28) var<storage, read> invStd4: array<F4>;
@group(0) @binding(29) var<storage, read> variance4: array<F4>;
@group(0) @binding(30) var<storage, read> sumsIn4: array<F4>;
@group(0) @binding(31) var<storage, read> squaresIn4: array<F4>;
@group(0) @binding(32) var<storage, read> gradSumsIn4: array<F4>;   // [lanes, C/4, 2]: sums of dy, then of dy * xhat
@group(0) @binding(33) var<storage, read_write> partial4: array<F4>;
@group(0) @binding(34) var<storage, read_write> gradPartial4: array<F4>;
@group(0) @binding(35) var<storage, read_write> meanOut4: array<F4>;
@group(0) @binding(36) var<storage, read_write> invStdOut4: array<F4>;
@group(0) @binding(37) var<storage, read_write> runningMean4: array<F4>;
@group(0) @binding(38) var<storage, read_write> runningVar4: array<F4>;
@group(0) @binding(39) var<storage, read_write> y4: array<F4>;
@group(0) @binding(40) var<storage, read_write> dx4: array<F4>;
@group(0) @binding(41) var<storage, read_write> dgamma4: array<F4>;
@group(0) @binding(42) var<storage, read_write> dbeta4: array<F4>;
@group(0) @binding(43) var<storage, read> gate4: array<F4>;

override RELU: bool = false;

const BLOCK = 32u;

#import flat_index(WG=64u)

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

fn blockEnd(i: u32, l: Lane) -> u32 {
  return min(i + BLOCK * params.channels, l.end);
}

// The backward partials of a (lane, channel or group): sum(dy) and sum(dy * xhat). Floats are stored as vec2s
// [lanes, C, 2]; vec4s of four channels as two vec4s, [lanes, C/4, 2].
struct GradSums { dy: f32, dyXhat: f32 }
struct GradSums4 { dy: F4, dyXhat: F4 }

fn storeGradPartial(at: u32, s: GradSums) {
  gradPartial[at] = vec2<f32>(s.dy, s.dyXhat);
}

fn storeGradPartial4(at: u32, s: GradSums4) {
  gradPartial4[2u * at] = s.dy;
  gradPartial4[2u * at + 1u] = s.dyXhat;
}

fn gradPartialAt(at: u32) -> GradSums {
  let v = gradSumsIn[at];
  return GradSums(v.x, v.y);
}

fn gradPartialAt4(at: u32) -> GradSums4 {
  return GradSums4(gradSumsIn4[2u * at], gradSumsIn4[2u * at + 1u]);
}

#import batchnorm_passes(T=f32, S=)
#import batchnorm_passes(T=F4, S=4)
