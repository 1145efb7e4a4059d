// The elements one invocation of a flat pass takes (imported with `#import flat_span(WG=...)`, WG the entries'
// workgroup size; launched with `elements: n`): for (var i = s.x; i < s.y; i += 8u), where s = flatSpan(...).
// Invocations form groups of 8 neighbours; a group walks a contiguous run of `per` * 8 elements, lane l taking
// every 8th from l. On a GPU the launcher gives one invocation per element (per = 1: i is the flat index, each
// loop runs once). On lavapipe it gives a few workgroups: each 8-wide SIMD group then streams through memory
// in order, instead of paying a workgroup's start-up for every 256 elements.
fn flatSpan(gid: vec3<u32>, groups: vec3<u32>, n: u32) -> vec2<u32> {
  let lanes = groups.x * groups.y * $WG;
  let t = gid.x + gid.y * groups.x * $WG;
  let per = (n + lanes - 1u) / lanes;
  let runStart = (t / 8u) * per * 8u;
  return vec2<u32>(runStart + t % 8u, min(runStart + per * 8u, n));
}
