// The workgroup tiles the tiled GEMM entries stage their operands in (shaders/lib/tiled_gemm.wgsl): imported once
// per module, shared by its entries.
const TILE = 64u;
const TK = 16u;
var<workgroup> tileA: array<array<f32, 64>, 16>;        // [k][m]
var<workgroup> tileB: array<array<vec4<f32>, 16>, 16>;  // [k][n / 4]
