// A tree sum across $LANES lanes (imported with `#import tree_sum_lanes(NAME=..., SCRATCH=..., LANES=...)`, see
// tree_sum.wgsl): lane `lid` brings `value`, halves are added pairwise in log2 steps (the same order on every run),
// and every lane gets the total. $SCRATCH is the module's scratch too.
var<workgroup> $SCRATCH: array<f32, $LANES>;

fn $NAME(lid: u32, value: f32) -> f32 {
  $SCRATCH[lid] = value;
  workgroupBarrier();
  for (var half = $LANES / 2u; half > 0u; half /= 2u) {
    if (lid < half) { $SCRATCH[lid] = $SCRATCH[lid] + $SCRATCH[lid + half]; }
    workgroupBarrier();
  }
  let total = $SCRATCH[0];
  workgroupBarrier();   // every lane has read the total before the array is reused
  return total;
}
