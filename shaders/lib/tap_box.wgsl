// One box of kernel taps copied out of, or back into, OHWI weights (shaders/conv.wgsl's tap_box), over the
// bindings weight$S and weightOut$S: floats, or vec4s of channels (imported with `#import tap_box(S=...)`).
@compute @workgroup_size(64)
fn tap_box$S(@builtin(global_invocation_id) gid: vec3<u32>) {
  let ci = gid.x;
  if (ci >= box.C) { return; }
  for (var co = gid.y * 8u; co < min(gid.y * 8u + 8u, box.Cout); co++) {
    for (var kh = 0u; kh < box.KH; kh++) {
      for (var kw = 0u; kw < box.KW; kw++) {
        let full = ((co * box.fullKH + box.kh0 + kh) * box.fullKW + box.kw0 + kw) * box.C + ci;
        let dense = ((co * box.KH + kh) * box.KW + kw) * box.C + ci;
        if (box.toFull == 1u) { weightOut$S[full] = weight$S[dense]; } else { weightOut$S[dense] = weight$S[full]; }
      }
    }
  }
}
