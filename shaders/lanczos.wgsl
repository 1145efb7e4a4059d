// Vector kernels of the Lanczos eigensolver (src/linalg/lanczos.ts) on resident buffers. The Krylov basis is
// one buffer of rows (basis row r = elements r*n .. r*n+n): the deflated vectors first, then q_0, q_1, ...
// A step is matvec -> (project -> subtract) twice -> normalize_vector; the CPU reads back only the alpha/beta
// scalars normalize_vector leaves in `scalars`, once every few steps.
// matvec:           product row `dst` = A basis row `src`. A must be symmetric: invocation i reads column i of
//                   the row-major A as row i, so neighbouring invocations read neighbouring addresses, and all
//                   of them read the same x_k at once (a broadcast). Staging x through workgroup memory in tiles
//                   measured 2x slower on lavapipe (barriers) and saves nothing where x_k is a broadcast.
// project:          coeffs[coeffOffset + r] = <basis row r, work> for r < rows: one workgroup per row, strided
//                   partial sums and a tree (the dot products of classical Gram-Schmidt; the last one is alpha).
// subtract:         work -= sum_r coeffs[coeffOffset + r] basis row r, r < rows: one invocation per element.
//                   project + subtract twice is CGS2, full re-orthogonalisation ("twice is enough").
// normalize_vector: one workgroup: scalars[normSlot] = |work|, basis row `dst` = work / |work|, and, unless
//                   alphaSlot is NO_SLOT, scalars[alphaSlot] = coeffs[alphaRow] + coeffs[secondOffset + alphaRow]
//                   (the diagonal of T with the second pass's correction). A vector of norm <= TINY (an exhausted
//                   Krylov space) is written as zeros, not 0/0: every later step then yields zeros, and the CPU
//                   sees beta = 0.
// combine:          product row v = sum_r coeffs[v*rows + r] basis row (src + r), v < count: Ritz vectors from
//                   the tridiagonal's eigenvectors.
// residual:         one workgroup per vector v < count: scalars[v] = |product row v - coeffs[v] basis row v|
//                   (|A y - theta y| with A y from matvec), the true residual of a Ritz pair.

// One uniform struct per entry point: each launch fills exactly the fields its kernel reads.
struct MatvecParams { n: u32, src: u32, dst: u32 }
// project and subtract: basis rows [0, rows), coefficients from coeffOffset.
struct RowsParams { n: u32, rows: u32, coeffOffset: u32 }
struct NormalizeParams { n: u32, dst: u32, normSlot: u32, alphaSlot: u32, alphaRow: u32, secondOffset: u32 }
struct CombineParams { n: u32, rows: u32, src: u32, count: u32 }
struct ResidualParams { n: u32, count: u32 }

@group(0) @binding(0) var<uniform> matvecParams: MatvecParams;
@group(0) @binding(8) var<uniform> rowsParams: RowsParams;
@group(0) @binding(9) var<uniform> normalizeParams: NormalizeParams;
@group(0) @binding(10) var<uniform> combineParams: CombineParams;
@group(0) @binding(11) var<uniform> residualParams: ResidualParams;
@group(0) @binding(1) var<storage, read> symmetric: array<f32>;
@group(0) @binding(2) var<storage, read> basis: array<f32>;
@group(0) @binding(3) var<storage, read_write> basisOut: array<f32>;
@group(0) @binding(4) var<storage, read_write> work: array<f32>;
@group(0) @binding(5) var<storage, read_write> coeffs: array<f32>;
@group(0) @binding(6) var<storage, read_write> scalars: array<f32>;
@group(0) @binding(7) var<storage, read_write> product: array<f32>;

const WG = 64u;
const WG_SINGLE = 256u;
const NO_SLOT = 0xffffffffu;
const TINY = 1e-30;
#import tree_sum
#import row_sweep

@compute @workgroup_size(64)
fn matvec(@builtin(global_invocation_id) gid: vec3<u32>) {
  let n = matvecParams.n;
  let i = gid.x;
  if (i >= n) { return; }
  let x0 = matvecParams.src * n;
  var acc = 0.0;
  for (var k = 0u; k < n; k++) { acc = fma(symmetric[k * n + i], basis[x0 + k], acc); }
  product[matvecParams.dst * n + i] = acc;
}

@compute @workgroup_size(64)
fn project(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let n = rowsParams.n;
  let sweep = rowSweep(wid, groups, rowsParams.rows, n);
  let base = sweep.row * n;
  var acc = 0.0;
  for (var i = lid.x; i < sweep.end; i += WG) { acc = fma(basis[base + i], work[i], acc); }
  let total = treeSum(lid.x, acc);
  if (sweep.inRange && lid.x == 0u) { coeffs[rowsParams.coeffOffset + sweep.row] = total; }
}

@compute @workgroup_size(64)
fn subtract(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  let n = rowsParams.n;
  if (i >= n) { return; }
  var acc = 0.0;
  for (var r = 0u; r < rowsParams.rows; r++) { acc = fma(coeffs[rowsParams.coeffOffset + r], basis[r * n + i], acc); }
  work[i] = work[i] - acc;
}

@compute @workgroup_size(256)
fn normalize_vector(@builtin(local_invocation_id) lid: vec3<u32>) {
  let n = normalizeParams.n;
  var acc = 0.0;
  for (var i = lid.x; i < n; i += WG_SINGLE) { acc = fma(work[i], work[i], acc); }
  let norm = sqrt(treeSumWide(lid.x, acc));
  var scale = 0.0;
  if (norm > TINY) { scale = 1.0 / norm; }
  for (var i = lid.x; i < n; i += WG_SINGLE) { basisOut[normalizeParams.dst * n + i] = work[i] * scale; }
  if (lid.x == 0u) {
    scalars[normalizeParams.normSlot] = norm;
    if (normalizeParams.alphaSlot != NO_SLOT) {
      scalars[normalizeParams.alphaSlot] = coeffs[normalizeParams.alphaRow] + coeffs[normalizeParams.secondOffset + normalizeParams.alphaRow];
    }
  }
}

@compute @workgroup_size(64)
fn combine(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let index = gid.x + gid.y * groups.x * WG;
  let n = combineParams.n;
  if (index >= n * combineParams.count) { return; }
  let v = index / n;
  let i = index % n;
  var acc = 0.0;
  for (var r = 0u; r < combineParams.rows; r++) { acc = fma(coeffs[v * combineParams.rows + r], basis[(combineParams.src + r) * n + i], acc); }
  product[index] = acc;
}

@compute @workgroup_size(64)
fn residual(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let n = residualParams.n;
  let sweep = rowSweep(wid, groups, residualParams.count, n);
  let v = sweep.row;
  var theta = 0.0;
  if (sweep.inRange) { theta = coeffs[v]; }
  var acc = 0.0;
  for (var i = lid.x; i < sweep.end; i += WG) {
    let r = product[v * n + i] - theta * basis[v * n + i];
    acc = fma(r, r, acc);
  }
  let total = treeSum(lid.x, acc);
  if (sweep.inRange && lid.x == 0u) { scalars[v] = sqrt(total); }
}
