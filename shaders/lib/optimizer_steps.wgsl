// The optimizer steps and the gradient norm's first stage over elements of type $T, through the bindings
// weights$S, grads$S, momentumBuf$S, expAvg$S and expAvgSq$S (imported by shaders/optimizer.wgsl with
// `#import optimizer_steps(T=..., B=..., S=...)`: f32 elements, or F4 = vec4<f32>, four neighbours per element with
// B4 = vec4<bool> decay masks). On lavapipe every storage-buffer load or store is a loop over the SIMD lanes, so
// a vec4 moves four floats per loop: an SGD step over 11.2M floats 1.7x. hyper.n and normParams.n count elements
// of $T; decays$S(i) says which of element i's floats decay.

fn decayedGrad$S(i: u32, w: $T, clip: f32, decays: $B) -> $T {
  let g = grads$S[i] * (hyper.gradScale * clip);
  return select(g, g + hyper.l2Decay * w, decays);
}

fn decoupled$S(w: $T, decays: $B) -> $T {
  return select(w, hyper.decoupledFactor * w, decays);
}

fn sgdUpdate$S(i: u32, clip: f32) {
  let w = weights$S[i];
  let decays = decays$S(i);
  weights$S[i] = decoupled$S(w, decays) - hyper.lr * decayedGrad$S(i, w, clip, decays);
}

// PyTorch: buf = momentum * buf + g (dampening 0; a zeroed buffer makes the first step buf = g, as PyTorch's
// clone does); the step direction is buf, or g + momentum * buf with Nesterov.
fn sgdMomentumUpdate$S(i: u32, clip: f32) {
  let w = weights$S[i];
  let decays = decays$S(i);
  let g = decayedGrad$S(i, w, clip, decays);
  let buf = hyper.momentum * momentumBuf$S[i] + g;
  momentumBuf$S[i] = buf;
  let direction = select(buf, g + hyper.momentum * buf, NESTEROV);
  weights$S[i] = decoupled$S(w, decays) - hyper.lr * direction;
}

// PyTorch's AdamW (and Adam when the decay is L2): w *= 1 - lr * wd; m = b1 m + (1 - b1) g;
// v = b2 v + (1 - b2) g^2; w -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
fn adamwUpdate$S(i: u32, clip: f32) {
  let w = weights$S[i];
  let decays = decays$S(i);
  let g = decayedGrad$S(i, w, clip, decays);
  let m = hyper.beta1 * expAvg$S[i] + hyper.oneMinusBeta1 * g;
  let v = hyper.beta2 * expAvgSq$S[i] + hyper.oneMinusBeta2 * (g * g);
  expAvg$S[i] = m;
  expAvgSq$S[i] = v;
  let denom = sqrt(v) / hyper.biasCorrection2Sqrt + hyper.eps;
  weights$S[i] = decoupled$S(w, decays) - hyper.stepSize * (m / denom);
}

@compute @workgroup_size(256)
fn sgd$S(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let r = stepRange(gid, groups);
  for (var i = r.first; i < r.end; i += 8u) { sgdUpdate$S(i, r.clip); }
}

@compute @workgroup_size(256)
fn sgd_momentum$S(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let r = stepRange(gid, groups);
  for (var i = r.first; i < r.end; i += 8u) { sgdMomentumUpdate$S(i, r.clip); }
}

@compute @workgroup_size(256)
fn adamw$S(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let r = stepRange(gid, groups);
  for (var i = r.first; i < r.end; i += 8u) { adamwUpdate$S(i, r.clip); }
}

@compute @workgroup_size(256)
fn norm_partial$S(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  var acc = 0.0;
  var bad = 0u;
  let s = flatSpan(gid, groups, normParams.n);
  for (var i = s.x; i < s.y; i += 8u) { addSquares$S(grads$S[i], &acc, &bad); }
  storePartial(lid.x, wid.x, acc, bad);
}
