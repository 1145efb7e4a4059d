// Stores four consecutive columns of row `row` of C (imported with `#import store4`), guarded for the edges of
// an M x N output: the importing module declares `dims` (with M and N) and the output `c: array<f32>`.
fn store4(base: u32, row: u32, col: u32, v: vec4<f32>) {
  if (row >= dims.M) { return; }
  let at = base + row * dims.N + col;
  if (col + 3u < dims.N) {
    c[at] = v.x; c[at + 1u] = v.y; c[at + 2u] = v.z; c[at + 3u] = v.w;
  } else {
    if (col < dims.N) { c[at] = v.x; }
    if (col + 1u < dims.N) { c[at + 1u] = v.y; }
    if (col + 2u < dims.N) { c[at + 2u] = v.z; }
  }
}
