// The argmax order (imported with `#import argmax(VALUES=..., INDICES=...)`): the larger value wins, and of equal
// values the lower index, so that every reduction order picks the same element (PyTorch's argmax picks the first
// maximum too).
fn better(v: f32, i: u32, bestV: f32, bestI: u32) -> bool {
  return v > bestV || (v == bestV && i < bestI);
}

// The workgroup's best (value, index) by `better`, left in $VALUES[0] and $INDICES[0]: lane `lid` brings its own,
// then halves are compared pairwise in log2 steps. $VALUES and $INDICES are the module's workgroup arrays of WG
// lanes. Barriers inside: call from uniform control flow.
fn argmaxTree(lid: u32, value: f32, index: u32) {
  $VALUES[lid] = value;
  $INDICES[lid] = index;
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half /= 2u) {
    if (lid < half && better($VALUES[lid + half], $INDICES[lid + half], $VALUES[lid], $INDICES[lid])) {
      $VALUES[lid] = $VALUES[lid + half];
      $INDICES[lid] = $INDICES[lid + half];
    }
    workgroupBarrier();
  }
}
