// Softmax cross-entropy over logits [rows, classes] with u32 labels [rows] and PyTorch's label smoothing
// (target = (1 - s) * onehot + s / classes).
// forward:  one workgroup per row. Pass 1 finds the row max (and the first index holding it, the prediction);
//           pass 2 sums exp(z) and z for z = x - max, so exp never overflows and sum exp(z) >= 1. With
//           lse' = log(sum exp(z)) the loss is lse' - onWeight * z[label] - offWeight * sum(z): every term is
//           >= 0 because z <= 0, so no cancellation. The backward needs only lse = max + lse' per row.
// backward: one invocation per logit: dlogits = (exp(x - lse) - target) * scale (times dloss[row] in
//           backward_rows). Recomputing the softmax from the logits reads the same rows*classes floats a saved
//           probability tensor would, but the forward writes rows values instead of rows*classes and nothing
//           of size rows*classes has to live between the passes.
// A label >= classes yields a NaN loss and NaN gradients, so the gradient-norm check catches it.

struct Params {
  rows: u32,
  classes: u32,
  dlossStride: u32,   // backward_rows: 0 reads dloss[0] for every row (a [1] upstream), 1 reads dloss[row]
  onWeight: f32,      // 1 - s
  offWeight: f32,     // s / classes
  onTarget: f32,      // 1 - s + s / classes
  scale: f32,         // upstream factor of the backward (1 / rows for the mean loss)
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<u32>;
@group(0) @binding(3) var<storage, read_write> loss: array<f32>;
@group(0) @binding(4) var<storage, read_write> lse: array<f32>;
@group(0) @binding(5) var<storage, read_write> predicted: array<u32>;
@group(0) @binding(6) var<storage, read_write> correct: array<f32>;
@group(0) @binding(7) var<storage, read> savedLse: array<f32>;
@group(0) @binding(8) var<storage, read> dloss: array<f32>;
@group(0) @binding(9) var<storage, read_write> dlogits: array<f32>;

const WG = 64u;
// A private variable, not a constant: WGSL rejects a NaN produced by constant evaluation.
var<private> NAN_BITS: u32 = 0x7fc00000u;
var<workgroup> partialA: array<f32, 64>;
var<workgroup> partialB: array<f32, 64>;
var<workgroup> partialIndex: array<u32, 64>;

// The first index of the largest value wins (NaN never does), like reduce.wgsl's argmax.
#import argmax(VALUES=partialA, INDICES=partialIndex)

@compute @workgroup_size(64)
fn forward(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let row = wid.x + wid.y * groups.x;
  let inRange = row < params.rows;   // guard, do not return: every invocation must reach the barriers
  let base = row * params.classes;

  var bestV = -3.4028234663852886e38;
  var bestI = 0xffffffffu;
  if (inRange) {
    for (var j = lid.x; j < params.classes; j += WG) {
      let v = logits[base + j];
      if (better(v, j, bestV, bestI)) { bestV = v; bestI = j; }
    }
  }
  argmaxTree(lid.x, bestV, bestI);
  let rowMax = partialA[0];
  let argmax = min(partialIndex[0], params.classes - 1u);
  workgroupBarrier();   // everyone has read partialA[0] before it is reused

  var sumExp = 0.0;
  var sumZ = 0.0;
  if (inRange) {
    for (var j = lid.x; j < params.classes; j += WG) {
      let z = logits[base + j] - rowMax;
      sumExp += exp(z);
      sumZ += z;
    }
  }
  partialA[lid.x] = sumExp;
  partialB[lid.x] = sumZ;
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half /= 2u) {
    if (lid.x < half) {
      partialA[lid.x] += partialA[lid.x + half];
      partialB[lid.x] += partialB[lid.x + half];
    }
    workgroupBarrier();
  }

  if (inRange && lid.x == 0u) {
    let label = labels[row];
    let lseShifted = log(partialA[0]);
    var rowLoss = bitcast<f32>(NAN_BITS);
    if (label < params.classes) {
      let zLabel = logits[base + label] - rowMax;
      rowLoss = lseShifted - params.onWeight * zLabel - params.offWeight * partialB[0];
    }
    loss[row] = rowLoss;
    lse[row] = rowMax + lseShifted;
    predicted[row] = argmax;
    correct[row] = select(0.0, 1.0, argmax == label);
  }
}

fn logitGrad(i: u32) -> f32 {
  let row = i / params.classes;
  let label = labels[row];
  let p = exp(logits[i] - savedLse[row]);
  let targetProb = select(params.offWeight, params.onTarget, i - row * params.classes == label);
  let g = (p - targetProb) * params.scale;
  return select(bitcast<f32>(NAN_BITS), g, label < params.classes);
}

@compute @workgroup_size(256)
fn backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.x + gid.y * groups.x * 256u;
  if (i < params.rows * params.classes) { dlogits[i] = logitGrad(i); }
}

// Per-row upstream gradient (weighted losses, or the per-sample loss output): dloss[row * dlossStride].
@compute @workgroup_size(256)
fn backward_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.x + gid.y * groups.x * 256u;
  if (i < params.rows * params.classes) {
    let row = i / params.classes;
    dlogits[i] = logitGrad(i) * dloss[row * params.dlossStride];
  }
}
