// Optimizer steps and the gradient global norm, each one flat pass over all parameters: weights, gradients
// and every state tensor each live in one contiguous buffer, element i of each belonging together.
//
// Gradient used by a step: g = grads[i] * gradScale * clip, plus l2Decay * w inside the decay range, where
// clip = min(1, maxNorm / (gradScale * norm + 1e-6)) comes from the [1] norm buffer that norm_final wrote
// (entries *_clip), so clipping needs no readback. A non-finite norm skips the step entirely (weights and state
// keep their values): one NaN gradient would otherwise poison every weight.
//
// Weight decay applies to elements in [decayStart, decayEnd) only. The parameter store puts the tensors that
// are not decayed (batch-norm scales and shifts, biases) at one end of the flat buffer, so one range covers
// them, costing one comparison per element instead of a per-element mask read from memory.

override NESTEROV: bool = false;

struct Hyper {
  n: u32,
  decayStart: u32,
  decayEnd: u32,
  lr: f32,
  gradScale: f32,
  maxNorm: f32,
  l2Decay: f32,             // added to the gradient: g += l2Decay * w (SGD's weight_decay, Adam's)
  decoupledFactor: f32,     // w *= 1 - lr * wd before the update (AdamW's); 1 when unused
  momentum: f32,
  beta1: f32,
  oneMinusBeta1: f32,
  beta2: f32,
  oneMinusBeta2: f32,
  eps: f32,
  stepSize: f32,            // lr / (1 - beta1^t)
  biasCorrection2Sqrt: f32, // sqrt(1 - beta2^t)
}

struct NormParams { n: u32, partials: u32 }

@group(0) @binding(0) var<uniform> hyper: Hyper;
@group(0) @binding(1) var<storage, read_write> weights: array<f32>;
@group(0) @binding(2) var<storage, read> grads: array<f32>;
@group(0) @binding(3) var<storage, read_write> momentumBuf: array<f32>;
@group(0) @binding(4) var<storage, read_write> expAvg: array<f32>;
@group(0) @binding(5) var<storage, read_write> expAvgSq: array<f32>;
@group(0) @binding(6) var<storage, read> gradNorm: array<f32>;
@group(0) @binding(7) var<uniform> normParams: NormParams;
@group(0) @binding(8) var<storage, read_write> partialSums: array<f32>;
@group(0) @binding(9) var<storage, read_write> partialNonFinite: array<u32>;
@group(0) @binding(10) var<storage, read> partialSumsIn: array<f32>;
@group(0) @binding(11) var<storage, read> partialNonFiniteIn: array<u32>;
@group(0) @binding(12) var<storage, read_write> norm: array<f32>;
@group(0) @binding(13) var<storage, read_write> nonFinite: array<u32>;

const WG = 256u;
// A private variable, not a constant: WGSL rejects a NaN produced by constant evaluation.
var<private> NAN_BITS: u32 = 0x7fc00000u;

// Compilers may assume floats are finite (WGSL allows it), so finiteness is read from the exponent bits.
fn isFinite(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u;
}

#import flat_span(WG=256u)

fn inDecayRange(i: u32) -> bool {
  return i >= hyper.decayStart && i < hyper.decayEnd;
}

fn clipFactor() -> f32 {
  return min(1.0, hyper.maxNorm / (hyper.gradScale * gradNorm[0] + 1e-6));
}

fn decayedGrad(i: u32, w: f32, clip: f32, decays: bool) -> f32 {
  let g = grads[i] * (hyper.gradScale * clip);
  return select(g, g + hyper.l2Decay * w, decays);
}

fn decoupled(w: f32, decays: bool) -> f32 {
  return select(w, hyper.decoupledFactor * w, decays);
}

fn sgdUpdate(i: u32, clip: f32) {
  let w = weights[i];
  let decays = inDecayRange(i);
  weights[i] = decoupled(w, decays) - hyper.lr * decayedGrad(i, w, clip, decays);
}

// PyTorch: buf = momentum * buf + g (dampening 0; a zeroed buffer makes the first step buf = g, as PyTorch's
// clone does); the step direction is buf, or g + momentum * buf with Nesterov.
fn sgdMomentumUpdate(i: u32, clip: f32) {
  let w = weights[i];
  let decays = inDecayRange(i);
  let g = decayedGrad(i, w, clip, decays);
  let buf = hyper.momentum * momentumBuf[i] + g;
  momentumBuf[i] = buf;
  let direction = select(buf, g + hyper.momentum * buf, NESTEROV);
  weights[i] = decoupled(w, decays) - hyper.lr * direction;
}

// PyTorch's AdamW (and Adam when the decay is L2): w *= 1 - lr * wd; m = b1 m + (1 - b1) g;
// v = b2 v + (1 - b2) g^2; w -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
fn adamwUpdate(i: u32, clip: f32) {
  let w = weights[i];
  let decays = inDecayRange(i);
  let g = decayedGrad(i, w, clip, decays);
  let m = hyper.beta1 * expAvg[i] + hyper.oneMinusBeta1 * g;
  let v = hyper.beta2 * expAvgSq[i] + hyper.oneMinusBeta2 * (g * g);
  expAvg[i] = m;
  expAvgSq[i] = v;
  let denom = sqrt(v) / hyper.biasCorrection2Sqrt + hyper.eps;
  weights[i] = decoupled(w, decays) - hyper.stepSize * (m / denom);
}

// The elements this invocation updates and the clip factor: an empty range when the norm is not finite (the
// step is skipped). Without clipping the launcher binds a norm of 0 and maxNorm is +inf: the factor is exactly 1.
struct StepRange { first: u32, end: u32, clip: f32 }

fn stepRange(gid: vec3<u32>, groups: vec3<u32>) -> StepRange {
  let s = flatSpan(gid, groups, hyper.n);
  if (!isFinite(gradNorm[0])) { return StepRange(0u, 0u, 0.0); }
  return StepRange(s.x, s.y, clipFactor());
}

@compute @workgroup_size(256)
fn sgd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let r = stepRange(gid, groups);
  for (var i = r.first; i < r.end; i += 8u) { sgdUpdate(i, r.clip); }
}

@compute @workgroup_size(256)
fn sgd_momentum(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let r = stepRange(gid, groups);
  for (var i = r.first; i < r.end; i += 8u) { sgdMomentumUpdate(i, r.clip); }
}

@compute @workgroup_size(256)
fn adamw(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let r = stepRange(gid, groups);
  for (var i = r.first; i < r.end; i += 8u) { adamwUpdate(i, r.clip); }
}

// ---- gradient global norm: sqrt(sum g^2) in two stages ------------------------------------------------------
// Stage 1: `partials` workgroups cover the buffer, each group of 8 neighbouring invocations walking a contiguous
// run (flat_span: ceil(n / (256 partials)) squares per invocation, in sequence), then a 256-way tree. Stage 2:
// one workgroup adds the partials the same way. Non-finite gradients are counted, not summed, so the count does not depend on how a
// compiler treats inf and NaN arithmetic; any of them makes the norm NaN.

var<workgroup> sumShare: array<f32, 256>;
var<workgroup> badShare: array<u32, 256>;

fn treeReduce(lid: u32) {
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half /= 2u) {
    if (lid < half) {
      sumShare[lid] += sumShare[lid + half];
      badShare[lid] += badShare[lid + half];
    }
    workgroupBarrier();
  }
}

@compute @workgroup_size(256)
fn norm_partial(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  var acc = 0.0;
  var bad = 0u;
  let s = flatSpan(gid, groups, normParams.n);
  for (var i = s.x; i < s.y; i += 8u) {
    let g = grads[i];
    if (isFinite(g)) { acc += g * g; } else { bad += 1u; }
  }
  sumShare[lid.x] = acc;
  badShare[lid.x] = bad;
  treeReduce(lid.x);
  if (lid.x == 0u) {
    partialSums[wid.x] = sumShare[0];
    partialNonFinite[wid.x] = badShare[0];
  }
}

@compute @workgroup_size(256)
fn norm_final(@builtin(local_invocation_id) lid: vec3<u32>) {
  var acc = 0.0;
  var bad = 0u;
  for (var k = lid.x; k < normParams.partials; k += WG) {
    acc += partialSumsIn[k];
    bad += partialNonFiniteIn[k];
  }
  sumShare[lid.x] = acc;
  badShare[lid.x] = bad;
  treeReduce(lid.x);
  if (lid.x == 0u) {
    norm[0] = select(bitcast<f32>(NAN_BITS), sqrt(sumShare[0]), badShare[0] == 0u);
    nonFinite[0] = badShare[0];
  }
}
