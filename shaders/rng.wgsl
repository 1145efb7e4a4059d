// Counter-based random numbers: Philox4x32-10 (Salmon et al., SC'11), the generator of JAX and cuRAND.
// Output element i comes from counter (i / 4, streamLo, streamHi, 0) and key (seedLo, seedHi), so a result never
// depends on the grid or the order of work, and src/rng.ts reproduces it bit for bit on the CPU.

struct Params { n: u32, seedLo: u32, seedHi: u32, streamLo: u32, streamHi: u32, a: f32, b: f32 }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

// WGSL has no 32x32->64 multiply: the high word is assembled from 16-bit halves (no partial sum overflows).
fn mulhi(a: u32, b: u32) -> u32 {
  let aLo = a & 0xffffu; let aHi = a >> 16u;
  let bLo = b & 0xffffu; let bHi = b >> 16u;
  let loLo = aLo * bLo; let hiLo = aHi * bLo; let loHi = aLo * bHi; let hiHi = aHi * bHi;
  let cross = (loLo >> 16u) + (hiLo & 0xffffu) + loHi;
  return hiHi + (hiLo >> 16u) + (cross >> 16u);
}

fn philox(counter: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
  var c = counter;
  var k = key;
  for (var round = 0u; round < 10u; round++) {
    let hi0 = mulhi(0xD2511F53u, c.x); let lo0 = 0xD2511F53u * c.x;
    let hi1 = mulhi(0xCD9E8D57u, c.z); let lo1 = 0xCD9E8D57u * c.z;
    c = vec4<u32>(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
    k = k + vec2<u32>(0x9E3779B9u, 0xBB67AE85u);
  }
  return c;
}

// 24 random bits -> a float in [0, 1) with every value exactly representable.
fn unit(x: u32) -> f32 { return f32(x >> 8u) * 5.9604644775390625e-8; }

fn draw(gid: vec3<u32>, groups: vec3<u32>) -> vec4<u32> {
  let blockIndex = gid.x + gid.y * groups.x * 64u;
  return philox(vec4<u32>(blockIndex, params.streamLo, params.streamHi, 0u), vec2<u32>(params.seedLo, params.seedHi));
}

// Uniform in [a, b).
@compute @workgroup_size(64)
fn uniform_f32(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let bits = draw(gid, groups);
  let base = (gid.x + gid.y * groups.x * 64u) * 4u;
  let span = params.b - params.a;
  for (var j = 0u; j < 4u; j++) {
    if (base + j < params.n) { out[base + j] = params.a + span * unit(bits[j]); }
  }
}

// Normal with mean a and standard deviation b, by Box-Muller on pairs of words.
@compute @workgroup_size(64)
fn normal_f32(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let bits = draw(gid, groups);
  let base = (gid.x + gid.y * groups.x * 64u) * 4u;
  for (var pair = 0u; pair < 2u; pair++) {
    let u1 = unit(bits[2u * pair]) + 5.9604644775390625e-8;   // (0, 1]: log stays finite
    let u2 = unit(bits[2u * pair + 1u]);
    let r = sqrt(-2.0 * log(u1));
    let theta = 6.283185307179586 * u2;
    let i = base + 2u * pair;
    if (i < params.n) { out[i] = params.a + params.b * r * cos(theta); }
    if (i + 1u < params.n) { out[i + 1u] = params.a + params.b * r * sin(theta); }
  }
}
