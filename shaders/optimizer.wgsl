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
// The same buffers seen as vec4s (steps over lengths that are multiples of 4: the trainer's flat buffers).
alias F4 = vec4<f32>;
alias B4 = vec4<bool>;
@group(0) @binding(14) var<storage, read_write> weights4: array<F4>;
@group(0) @binding(15) var<storage, read> grads4: array<F4>;
@group(0) @binding(16) var<storage, read_write> momentumBuf4: array<F4>;
@group(0) @binding(17) var<storage, read_write> expAvg4: array<F4>;
@group(0) @binding(18) var<storage, read_write> expAvgSq4: array<F4>;

const WG = 256u;
// A private variable, not a constant: WGSL rejects a NaN produced by constant evaluation.
var<private> NAN_BITS: u32 = 0x7fc00000u;

// Compilers may assume floats are finite (WGSL allows it), so finiteness is read from the exponent bits.
fn isFinite(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u;
}

#import flat_span(WG=256u)

fn decays(i: u32) -> bool {
  return i >= hyper.decayStart && i < hyper.decayEnd;
}

fn clipFactor() -> f32 {
  return min(1.0, hyper.maxNorm / (hyper.gradScale * gradNorm[0] + 1e-6));
}

fn decays4(i: u32) -> B4 {
  let e = 4u * i;
  return B4(decays(e), decays(e + 1u), decays(e + 2u), decays(e + 3u));
}

// The elements this invocation updates and the clip factor: an empty range when the norm is not finite (the
// step is skipped). Without clipping the launcher binds a norm of 0 and maxNorm is +inf: the factor is exactly 1.
struct StepRange { first: u32, end: u32, clip: f32 }

fn stepRange(gid: vec3<u32>, groups: vec3<u32>) -> StepRange {
  let s = flatSpan(gid, groups, hyper.n);
  if (!isFinite(gradNorm[0])) { return StepRange(0u, 0u, 0.0); }
  return StepRange(s.x, s.y, clipFactor());
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

fn addSquares(g: f32, acc: ptr<function, f32>, bad: ptr<function, u32>) {
  if (isFinite(g)) { *acc += g * g; } else { *bad += 1u; }
}

fn addSquares4(g: F4, acc: ptr<function, f32>, bad: ptr<function, u32>) {
  for (var c = 0u; c < 4u; c++) { addSquares(g[c], acc, bad); }
}

fn storePartial(lid: u32, group: u32, acc: f32, bad: u32) {
  sumShare[lid] = acc;
  badShare[lid] = bad;
  treeReduce(lid);
  if (lid == 0u) {
    partialSums[group] = sumShare[0];
    partialNonFinite[group] = badShare[0];
  }
}

// The steps and norm_partial, once over floats and once over vec4s (entries sgd, sgd4, ..., norm_partial4).
#import optimizer_steps(T=f32, B=bool, S=)
#import optimizer_steps(T=F4, B=B4, S=4)

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
