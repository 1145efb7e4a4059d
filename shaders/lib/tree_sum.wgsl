// Tree sums across a workgroup (imported with `#import tree_sum`): lane `lid` brings `value`, halves are added
// pairwise in log2 steps (the same order on every run), and every lane gets the total. treeSum serves 64 lanes,
// treeSumWide 256. Barriers inside: call from uniform control flow. The arrays are the module's scratch too.
var<workgroup> partial: array<f32, 64>;
var<workgroup> partialWide: array<f32, 256>;

fn treeSum(lid: u32, value: f32) -> f32 {
  partial[lid] = value;
  workgroupBarrier();
  for (var half = 32u; half > 0u; half /= 2u) {
    if (lid < half) { partial[lid] = partial[lid] + partial[lid + half]; }
    workgroupBarrier();
  }
  let total = partial[0];
  workgroupBarrier();   // every lane has read the total before the array is reused
  return total;
}

fn treeSumWide(lid: u32, value: f32) -> f32 {
  partialWide[lid] = value;
  workgroupBarrier();
  for (var half = 128u; half > 0u; half /= 2u) {
    if (lid < half) { partialWide[lid] = partialWide[lid] + partialWide[lid + half]; }
    workgroupBarrier();
  }
  let total = partialWide[0];
  workgroupBarrier();
  return total;
}
