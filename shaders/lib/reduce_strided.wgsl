// The reduction's combine rules for $T, and the strided entry over x$S / out$S (imported by shaders/reduce.wgsl
// with `#import reduce_strided(T=..., S=...)`; params.inner counts elements of $T).
fn identity$S() -> $T {
  if (OP == 1u) { return $T(-3.4028234663852886e38); }
  return $T(0.0);
}

fn combine$S(p: $T, q: $T) -> $T {
  if (OP == 1u) { return max(p, q); }
  return p + q;
}

fn finish$S(v: $T) -> $T {
  if (OP == 0u) { return v * params.scale; }
  return v;
}

// A flat pass over the outputs (shaders/lib/flat_span.wgsl). With outer == 1 (a sum over the leading axis, as
// of the weight gradient's chunk partials) the output index is the input offset: no division per output, which
// llvmpipe would run as eight scalar divides.
@compute @workgroup_size(64)
fn strided$S(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let s = flatSpan(gid, groups, params.outer * params.inner);
  for (var o = s.x; o < s.y; o += 8u) {
    var base = o;
    if (params.outer > 1u) { base = (o / params.inner) * params.len * params.inner + o % params.inner; }
    var acc = identity$S();
    for (var i = 0u; i < params.len; i++) { acc = combine$S(acc, x$S[base + i * params.inner]); }
    out$S[o] = finish$S(acc);
  }
}
