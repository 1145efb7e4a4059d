// col2im over $T (f32: one channel per invocation; F4: four neighbouring channels, the bindings dcols4 and
// dx4, with C, K and m0 counted in vec4s), imported twice by shaders/conv.wgsl.
//
// dX[n, h, w, ci] = sum over taps (kh, kw) whose output pixel (oh, ow) exists of dP[(n, oh, ow), (kh, kw, ci)].
// A gather, not a scatter: each input element is written once, in a fixed order, without atomics. Runs on a slab
// of whole images (conv.N of them here), whose dP rows start at 0 and whose dx starts at element m0.
// Invocation (ci, w, n * H + h). The taps that reach an output pixel are kh = (h + pad) % stride, then every
// stride-th; their oh falls by one each step, so the loops divide only once per invocation (llvmpipe runs each
// integer division as eight scalar ones).
@compute @workgroup_size(64)
fn col2im$S(@builtin(global_invocation_id) gid: vec3<u32>) {
  let ci = gid.x;
  let w = gid.y;
  if (ci >= conv.C || w >= conv.W || gid.z >= conv.N * conv.H) { return; }
  let n = gid.z / conv.H;
  let h = gid.z % conv.H;
  let hp = h + conv.pad;
  let wp = w + conv.pad;
  var sum = $T(0.0);
  var kh = hp % conv.stride;
  var oh = i32(hp / conv.stride);
  while (kh < conv.KH) {
    if (oh >= 0 && u32(oh) < conv.Ho) {
      var kw = wp % conv.stride;
      var ow = i32(wp / conv.stride);
      while (kw < conv.KW) {
        if (ow >= 0 && u32(ow) < conv.Wo) {
          let row = (n * conv.Ho + u32(oh)) * conv.Wo + u32(ow);
          sum += dcols$S[row * conv.K + (kh * conv.KW + kw) * conv.C + ci];
        }
        kw += conv.stride;
        ow -= 1;
      }
    }
    kh += conv.stride;
    oh -= 1;
  }
  dx$S[conv.m0 + (gid.z * conv.W + w) * conv.C + ci] = sum;
}
