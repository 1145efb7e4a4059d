// The element index of a one-dimensional launch whose workgroups the launcher folded into x and y (imported with
// `#import flat_index(WG=...)`, WG the entries' workgroup size).
fn flatIndex(gid: vec3<u32>, groups: vec3<u32>) -> u32 {
  return gid.x + gid.y * groups.x * $WG;
}
