// The argmax order (imported with `#import argmax`): the larger value wins, and of equal values the lower index,
// so that every reduction order picks the same element (PyTorch's argmax picks the first maximum too).
fn better(v: f32, i: u32, bestV: f32, bestI: u32) -> bool {
  return v > bestV || (v == bestV && i < bestI);
}
