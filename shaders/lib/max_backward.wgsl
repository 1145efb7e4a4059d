// The max-pool backward's channel walk over dy$S / argmax$S / dx$S, channels as $T (imported by shaders/pool.wgsl
// with `#import max_backward(T=..., U=..., S=...)`; params.channels counts elements of $T).
@compute @workgroup_size(256)
fn max_backward$S(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let p = flatIndex(gid, groups);
  if (p >= params.total) { return; }
  let win = windowsOf(p);
  let C = params.channels;
  for (var c = 0u; c < C; c++) {
    var acc = $T(0.0);
    for (var oh = win.ohLo; oh <= win.ohHi; oh++) {
      for (var ow = win.owLo; ow <= win.owHi; ow++) {
        let o = ((win.imageOut + oh) * params.outW + ow) * C + c;
        acc += select($T(0.0), dy$S[o], argmax$S[o] == $U(win.at));
      }
    }
    dx$S[p * C + c] = acc;
  }
}
