// Data augmentation of a batch of uint8 NHWC images into normalized f32 NHWC, torchvision semantics on the
// 0..1 scale (ToTensor first): zero-padded crop -> horizontal flip -> bilinear resize (half-pixel centers) ->
// rotation about the image center (bilinear, zero outside) -> brightness -> contrast -> normalize.
// The random draws come from the CPU (src/ops/augment.ts) as one SampleParams per image.
//
// warp:            one invocation per output pixel composes every geometric step as a gather from the source
//                  bytes (no intermediate images), applies brightness, and either normalizes (no contrast) or
//                  writes the 0..1 values for the contrast passes.
// gray_mean:       contrast blends with the mean gray level of the image as it is at that point, so it needs a
//                  per-image reduction first: one workgroup per image.
// blend_normalize: the contrast blend and the normalization, in place.

override ROTATE: bool = false;  // off: the rotation's bilinear step is skipped (angle 0 would be exact anyway)
override RESIZE: bool = false;  // off: output size equals the crop size, so resizing is the identity
override FINAL: bool = true;    // warp normalizes and writes the result (no contrast pass follows)

struct SampleParams {
  originY: i32,      // source row of the crop's first row (crop offset minus padding; may be negative)
  originX: i32,
  flip: u32,
  cosAngle: f32,     // cos and sin of the angle, computed in float64 on the CPU (WGSL's cos is only 2^-11-exact)
  sinAngle: f32,
  brightness: f32,
  contrast: f32,
  unused: f32,
}

struct Params {
  images: u32,
  srcH: u32,
  srcW: u32,
  channels: u32,
  cropH: u32,
  cropW: u32,
  outH: u32,
  outW: u32,
  pixels: u32,       // images * outH * outW
  elements: u32,     // pixels * channels
  scaleY: f32,       // cropH / outH, the resize's source step per output pixel
  scaleX: f32,
  channelMean: vec4<f32>,   // 0..1 scale
  channelStd: vec4<f32>,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> bytes: array<u32>;   // the uint8 images, 4 per word, little-endian
@group(0) @binding(2) var<storage, read> samples: array<SampleParams>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read_write> grayMeans: array<f32>;

const WG = 256u;
const INV_255 = 1.0 / 255.0;

// A source byte on the 0..255 scale; zero outside the image, which is exactly the crop's zero padding.
fn sourceTexel(image: u32, row: i32, col: i32, ch: u32) -> f32 {
  if (row < 0 || col < 0 || row >= i32(params.srcH) || col >= i32(params.srcW)) { return 0.0; }
  let at = ((image * params.srcH + u32(row)) * params.srcW + u32(col)) * params.channels + ch;
  return f32((bytes[at >> 2u] >> ((at & 3u) * 8u)) & 0xffu);
}

// Pixel (v, u) of the flipped crop; callers keep (v, u) inside the crop window.
fn cropTexel(image: u32, s: SampleParams, v: i32, u: i32, ch: u32) -> f32 {
  let col = select(u, i32(params.cropW) - 1 - u, s.flip != 0u);
  return sourceTexel(image, s.originY + v, s.originX + col, ch);
}

struct Tap { lo: i32, hi: i32, frac: f32 }

// PyTorch's bilinear source index with align_corners=False: half-pixel centers, clamped at 0 below and by
// repeating the last row/column above (resize never samples outside the image).
fn resizeTap(dst: i32, scale: f32, size: u32) -> Tap {
  let src = max((f32(dst) + 0.5) * scale - 0.5, 0.0);
  let lo = min(i32(floor(src)), i32(size) - 1);
  return Tap(lo, min(lo + 1, i32(size) - 1), src - f32(lo));
}

// Pixel (py, px) of the resized image; (py, px) inside [0, outH) x [0, outW).
fn resizedTexel(image: u32, s: SampleParams, py: i32, px: i32, ch: u32) -> f32 {
  if (!RESIZE) { return cropTexel(image, s, py, px, ch); }
  let ty = resizeTap(py, params.scaleY, params.cropH);
  let tx = resizeTap(px, params.scaleX, params.cropW);
  let top = (1.0 - tx.frac) * cropTexel(image, s, ty.lo, tx.lo, ch) + tx.frac * cropTexel(image, s, ty.lo, tx.hi, ch);
  let bottom = (1.0 - tx.frac) * cropTexel(image, s, ty.hi, tx.lo, ch) + tx.frac * cropTexel(image, s, ty.hi, tx.hi, ch);
  return (1.0 - ty.frac) * top + ty.frac * bottom;
}

// A corner of the rotation's bilinear footprint: zero outside the resized image (grid_sample's zero padding).
fn rotationCorner(image: u32, s: SampleParams, py: i32, px: i32, ch: u32) -> f32 {
  if (py < 0 || px < 0 || py >= i32(params.outH) || px >= i32(params.outW)) { return 0.0; }
  return resizedTexel(image, s, py, px, ch);
}

// Output pixel (y, x) on the 0..255 scale. Rotation maps the output back into the resized image about the
// center ((W-1)/2, (H-1)/2) of pixel indices, counter-clockwise as displayed (torchvision's rotate).
fn geometricTexel(image: u32, s: SampleParams, y: u32, x: u32, ch: u32) -> f32 {
  if (!ROTATE) { return resizedTexel(image, s, i32(y), i32(x), ch); }
  let cx = 0.5 * f32(params.outW - 1u);
  let cy = 0.5 * f32(params.outH - 1u);
  let dx = f32(x) - cx;
  let dy = f32(y) - cy;
  let sx = s.cosAngle * dx - s.sinAngle * dy + cx;
  let sy = s.sinAngle * dx + s.cosAngle * dy + cy;
  let x0 = floor(sx);
  let y0 = floor(sy);
  let fx = sx - x0;
  let fy = sy - y0;
  let ix = i32(x0);
  let iy = i32(y0);
  let top = (1.0 - fx) * rotationCorner(image, s, iy, ix, ch) + fx * rotationCorner(image, s, iy, ix + 1, ch);
  let bottom = (1.0 - fx) * rotationCorner(image, s, iy + 1, ix, ch) + fx * rotationCorner(image, s, iy + 1, ix + 1, ch);
  return (1.0 - fy) * top + fy * bottom;
}

fn normalized(v: f32, ch: u32) -> f32 {
  return (v - params.channelMean[ch]) / params.channelStd[ch];
}

@compute @workgroup_size(256)
fn warp(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let pixel = gid.x + gid.y * groups.x * WG;
  if (pixel >= params.pixels) { return; }
  let perImage = params.outH * params.outW;
  let image = pixel / perImage;
  let within = pixel % perImage;
  let y = within / params.outW;
  let x = within % params.outW;
  let s = samples[image];
  for (var ch = 0u; ch < params.channels; ch++) {
    // torchvision's adjust_brightness is a blend with black, clamped to the image range.
    let v = clamp(s.brightness * (geometricTexel(image, s, y, x, ch) * INV_255), 0.0, 1.0);
    let at = pixel * params.channels + ch;
    if (FINAL) { out[at] = normalized(v, ch); } else { out[at] = v; }
  }
}

// torchvision's rgb_to_grayscale weights; a one-channel image is its own gray level.
fn grayAt(pixel: u32) -> f32 {
  let at = pixel * params.channels;
  if (params.channels == 1u) { return out[at]; }
  return 0.2989 * out[at] + 0.587 * out[at + 1u] + 0.114 * out[at + 2u];
}

var<workgroup> partial: array<f32, 256>;

@compute @workgroup_size(256)
fn gray_mean(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let image = wid.x + wid.y * groups.x;
  let inRange = image < params.images;   // guard, do not return: every invocation must reach the barriers
  let perImage = params.outH * params.outW;
  var acc = 0.0;
  if (inRange) {
    let base = image * perImage;
    for (var q = lid.x; q < perImage; q += WG) { acc += grayAt(base + q); }
  }
  partial[lid.x] = acc;
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half /= 2u) {
    if (lid.x < half) { partial[lid.x] += partial[lid.x + half]; }
    workgroupBarrier();
  }
  if (inRange && lid.x == 0u) { grayMeans[image] = partial[0] / f32(perImage); }
}

// torchvision's adjust_contrast: a blend with the image's mean gray level, clamped to the image range.
@compute @workgroup_size(256)
fn blend_normalize(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.x + gid.y * groups.x * WG;
  if (i >= params.elements) { return; }
  let image = i / (params.outH * params.outW * params.channels);
  let ch = i % params.channels;
  let c = samples[image].contrast;
  let v = clamp(c * out[i] + (1.0 - c) * grayMeans[image], 0.0, 1.0);
  out[i] = normalized(v, ch);
}
