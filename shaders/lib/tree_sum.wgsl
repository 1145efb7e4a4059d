// Tree sums across a workgroup (imported with `#import tree_sum`): treeSum serves 64 lanes, treeSumWide 256, both
// the one text of tree_sum_lanes.wgsl. Barriers inside: call from uniform control flow. Their scratch arrays,
// `partial` and `partialWide`, are the module's scratch too.
#import tree_sum_lanes(NAME=treeSum, SCRATCH=partial, LANES=64)
#import tree_sum_lanes(NAME=treeSumWide, SCRATCH=partialWide, LANES=256)
