// Batch-norm's passes over $T (f32: one channel per invocation; F4: four neighbouring channels), through the
// bindings x$S, dy$S, gamma$S, ... of shaders/batchnorm.wgsl (imported with `#import batchnorm_passes(T=..., S=...)`).
// Read that file's header for the design; params.channels counts elements of $T per row.

// dy through the fused ReLU: relu(z) > 0 exactly where z > 0.
fn gatedDy$S(i: u32) -> $T {
  if (RELU) { return select(dy$S[i], $T(0.0), gate$S[i] <= $T(0.0)); }
  return dy$S[i];
}

// A channel's totals of the [lanes, C] partials, in lane order (the same in every invocation of the channel).
fn sumOf$S(c: u32) -> $T {
  var total = $T(0.0);
  for (var k = 0u; k < params.lanes; k++) { total += sumsIn$S[k * params.channels + c]; }
  return total;
}

fn squaresOf$S(c: u32) -> $T {
  var total = $T(0.0);
  for (var k = 0u; k < params.lanes; k++) { total += squaresIn$S[k * params.channels + c]; }
  return total;
}

fn gradSumsOf$S(c: u32) -> GradSums$S {
  var total = GradSums$S($T(0.0), $T(0.0));
  for (var k = 0u; k < params.lanes; k++) {
    let part = gradPartialAt$S(k * params.channels + c);
    total.dy += part.dy;
    total.dyXhat += part.dyXhat;
  }
  return total;
}

// This lane's blocked sum of x, or of (x - m)^2 when `squared`.
fn xSum$S(l: Lane, m: $T, squared: bool) -> $T {
  var total = $T(0.0);
  for (var i = l.first; i < l.end; i = blockEnd(i, l)) {
    var part = $T(0.0);
    for (var j = i; j < blockEnd(i, l); j += params.channels) {
      let d = x$S[j] - m;
      part += select(x$S[j], d * d, squared);
    }
    total += part;
  }
  return total;
}

@compute @workgroup_size(64)
fn sum_partial$S(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let l = laneOf(gid, groups);
  if (l.live) { partial$S[l.lane * params.channels + l.channel] = xSum$S(l, $T(0.0), false); }
}

@compute @workgroup_size(64)
fn sqdev_partial$S(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let l = laneOf(gid, groups);
  if (l.live) { partial$S[l.lane * params.channels + l.channel] = xSum$S(l, sumOf$S(l.channel) * params.invCount, true); }
}

// Normalises with the batch statistics; lane 0 of each channel also stores the mean and inverse std the backward
// takes and updates the running statistics. Biased variance normalises (as PyTorch); the running estimate
// takes the unbiased one. (x - mean) * invStd first: folding into x * scale + shift would cancel when
// |mean| >> std.
@compute @workgroup_size(64)
fn normalize$S(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let l = laneOf(gid, groups);
  if (!l.live) { return; }
  let c = l.channel;
  let m = sumOf$S(c) * params.invCount;
  let biased = squaresOf$S(c) * params.invCount;
  let s = inverseSqrt(biased + params.eps);
  if (l.lane == 0u) {
    meanOut$S[c] = m;
    invStdOut$S[c] = s;
    let keep = 1.0 - params.momentum;
    runningMean$S[c] = keep * runningMean$S[c] + params.momentum * m;
    runningVar$S[c] = keep * runningVar$S[c] + params.momentum * (biased * params.unbias);
  }
  normalizeLane$S(l, m, s);
}

@compute @workgroup_size(64)
fn normalize_eval$S(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let l = laneOf(gid, groups);
  if (l.live) { normalizeLane$S(l, mean$S[l.channel], inverseSqrt(variance$S[l.channel] + params.eps)); }
}

// y = ((x - m) * s) * gamma + beta over this lane's rows, through the fused ReLU when RELU.
fn normalizeLane$S(l: Lane, m: $T, s: $T) {
  let g = gamma$S[l.channel];
  let b = beta$S[l.channel];
  for (var i = l.first; i < l.end; i += params.channels) {
    let v = (x$S[i] - m) * s * g + b;
    y$S[i] = select(v, max(v, $T(0.0)), RELU);
  }
}

// Backward partials: sum(dy) and sum(dy * xhat), xhat recomputed from the saved mean and inverse std.
@compute @workgroup_size(64)
fn grad_partial$S(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let l = laneOf(gid, groups);
  if (!l.live) { return; }
  let m = mean$S[l.channel];
  let s = invStd$S[l.channel];
  var total = GradSums$S($T(0.0), $T(0.0));
  for (var i = l.first; i < l.end; i = blockEnd(i, l)) {
    var part = GradSums$S($T(0.0), $T(0.0));
    for (var j = i; j < blockEnd(i, l); j += params.channels) {
      let g = gatedDy$S(j);
      part.dy += g;
      part.dyXhat += g * ((x$S[j] - m) * s);
    }
    total.dy += part.dy;
    total.dyXhat += part.dyXhat;
  }
  storeGradPartial$S(l.lane * params.channels + l.channel, total);
}

// dx = gamma * invStd * (dy - sum(dy)/n - xhat * sum(dy*xhat)/n): the training-mode gradient, where the batch
// statistics depend on x. Lane 0 of each channel stores dbeta = sum(dy) and dgamma = sum(dy * xhat).
@compute @workgroup_size(64)
fn grad_input$S(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let l = laneOf(gid, groups);
  if (!l.live) { return; }
  let c = l.channel;
  let sums = gradSumsOf$S(c);
  if (l.lane == 0u) {
    dbeta$S[c] = sums.dy;
    dgamma$S[c] = sums.dyXhat;
  }
  let m = mean$S[c];
  let s = invStd$S[c];
  let gs = gamma$S[c] * s;
  let a = sums.dy * params.invCount;
  let b = sums.dyXhat * params.invCount;
  for (var i = l.first; i < l.end; i += params.channels) {
    let xhat = (x$S[i] - m) * s;
    dx$S[i] = gs * (gatedDy$S(i) - a - xhat * b);
  }
}
