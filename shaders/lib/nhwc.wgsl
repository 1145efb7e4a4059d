// The coordinates (n, h, w, c) of element i of an NHWC tensor of H x W pixels of C channels (imported with
// `#import nhwc`).
fn nhwcOf(i: u32, H: u32, W: u32, C: u32) -> vec4<u32> {
  let pixel = i / C;
  return vec4<u32>(pixel / (W * H), (pixel / W) % H, pixel % W, i % C);
}
