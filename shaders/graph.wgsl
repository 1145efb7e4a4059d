// The similarity graph of a batch for spectral selection (SALN): features [B, F] -> unit rows; the cosine
// similarity S = Fn Fn^T comes from the matmul kernels; S -> affinity W (zero diagonal) and degrees d = W 1;
// W -> graph Laplacian in place; the Laplacian's known null vector, which Lanczos deflates.
// normalize_rows: one workgroup per row. The row is scaled by 1/max|x| before squaring, so neither large nor
//                 tiny features overflow or underflow the sum of squares; the scale cancels in the result.
//                 A zero row (max|x| = 0) cannot be normalised: it stays zero, so its similarity to every
//                 sample is 0.
// affinity:       one workgroup per row: W_ij = affinity((S_ij + S_ji) / 2), W_ii = 0, and d_i = sum_j W_ij. The
//                 mean makes W exactly symmetric even if the GEMM's rounding is not, which the Lanczos mat-vec
//                 relies on (it reads columns as rows).
// laplacian:      one invocation per entry: L = D - W, or L_sym = I - D^-1/2 W D^-1/2 where an isolated vertex
//                 (d = 0) keeps the identity row (D^-1/2 taken as 0 there, as for a pseudo-inverse).
// null_vector:    one workgroup: 1/sqrt(B) for D - W; D^1/2 1 / |D^1/2 1| for L_sym, all zeros when every
//                 degree is 0 (L_sym = I has no null vector, and deflating a zero vector changes nothing).
// knn_mask:       one workgroup per row i: marks the K largest off-diagonal W_ij of the row, ties to the lower j
//                 (K >= B - 1 marks every off-diagonal entry). The K-th largest weight is found by a bitwise
//                 binary search on the weights' bit patterns (for w >= 0 the u32 order of the bits is the float
//                 order), 32 counting passes over the row instead of a sort: B log(2^32) rather than B^2 per row.
//                 Weights that are not > 0 (zero, or NaN from non-finite features) count as 0.
// knn_symmetrize: one workgroup per row: W'_ij = max(m_ij W_ij, m_ji W_ji) (an edge kept by either end stays,
//                 so W' is symmetric), and the degrees of W'. Out of place: row i reads column i of W, which the
//                 workgroup of another row would be rewriting in place.

override AFFINITY: u32 = 0u;      // 0 clip max(S, 0); 1 shift (S + 1) / 2; 2 exp exp(-(1 - S) / t)
override NORMALIZED: bool = false;

// One uniform struct per entry point: each launch fills exactly the fields its kernel reads.
struct RowsParams { rows: u32, cols: u32 }           // normalize_rows: B rows of F
struct AffinityParams { rows: u32, temperature: f32 } // t of the exp affinity
struct SizeParams { rows: u32 }                      // laplacian, null_vector, knn_symmetrize: B
struct KnnParams { rows: u32, neighbours: u32 }      // K of knn_mask

@group(0) @binding(0) var<uniform> rowsParams: RowsParams;
@group(0) @binding(11) var<uniform> affinityParams: AffinityParams;
@group(0) @binding(12) var<uniform> sizeParams: SizeParams;
@group(0) @binding(13) var<uniform> knnParams: KnnParams;
@group(0) @binding(1) var<storage, read> features: array<f32>;
@group(0) @binding(2) var<storage, read_write> unitRows: array<f32>;
@group(0) @binding(3) var<storage, read> similarity: array<f32>;
@group(0) @binding(4) var<storage, read_write> weights: array<f32>;
@group(0) @binding(5) var<storage, read_write> degrees: array<f32>;
@group(0) @binding(6) var<storage, read> degreesIn: array<f32>;
@group(0) @binding(7) var<storage, read_write> nullVector: array<f32>;
@group(0) @binding(8) var<storage, read_write> neighbourMask: array<u32>;
@group(0) @binding(9) var<storage, read> denseWeights: array<f32>;
@group(0) @binding(10) var<storage, read> neighbourMaskIn: array<u32>;

const WG = 64u;
const WG_SINGLE = 256u;
var<workgroup> counts: array<u32, 64>;

#import tree_sum
#import row_sweep

@compute @workgroup_size(64)
fn normalize_rows(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let sweep = rowSweep(wid, groups, rowsParams.rows, rowsParams.cols);
  let row = sweep.row;
  let inRange = sweep.inRange;
  let base = row * rowsParams.cols;
  var largest = 0.0;
  for (var j = lid.x; j < sweep.end; j += WG) { largest = max(largest, abs(features[base + j])); }
  partial[lid.x] = largest;
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half /= 2u) {
    if (lid.x < half) { partial[lid.x] = max(partial[lid.x], partial[lid.x + half]); }
    workgroupBarrier();
  }
  let rowMax = partial[0];
  workgroupBarrier();   // everyone has read partial[0] before it is reused
  var inverseMax = 0.0;
  if (rowMax > 0.0) { inverseMax = 1.0 / rowMax; }
  var sumSquares = 0.0;
  if (inRange) {
    for (var j = lid.x; j < rowsParams.cols; j += WG) {
      let x = features[base + j] * inverseMax;
      sumSquares += x * x;
    }
  }
  let total = treeSum(lid.x, sumSquares);
  // total >= 1 whenever the row is nonzero (its largest entry scales to 1), so inverseSqrt is safe.
  var scale = 0.0;
  if (total > 0.0) { scale = inverseMax * inverseSqrt(total); }
  if (inRange) {
    for (var j = lid.x; j < rowsParams.cols; j += WG) { unitRows[base + j] = features[base + j] * scale; }
  }
}

fn affinityOf(s: f32) -> f32 {
  switch AFFINITY {
    case 0u: { return max(s, 0.0); }
    case 1u: { return (s + 1.0) * 0.5; }
    default: { return exp(-(1.0 - s) / affinityParams.temperature); }
  }
}

@compute @workgroup_size(64)
fn affinity(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let n = affinityParams.rows;
  let sweep = rowSweep(wid, groups, n, n);
  let row = sweep.row;
  var degree = 0.0;
  for (var j = lid.x; j < sweep.end; j += WG) {
    var w = 0.0;
    if (j != row) { w = affinityOf((similarity[row * n + j] + similarity[j * n + row]) * 0.5); }
    degree += setWeight(row, n, j, w);
  }
  storeDegree(lid.x, row, sweep.inRange, degree);
}

// Stores weight (row, j) of the n x n graph and returns it (for the row's running degree).
fn setWeight(row: u32, n: u32, j: u32, w: f32) -> f32 {
  weights[row * n + j] = w;
  return w;
}

// The row's degree from its lanes' partial sums (a tree: barriers, so uniform control flow); lane 0 stores it.
fn storeDegree(lid: u32, row: u32, inRange: bool, partial: f32) {
  let total = treeSum(lid, partial);
  if (inRange && lid == 0u) { degrees[row] = total; }
}

fn inverseRootDegree(d: f32) -> f32 {
  if (d > 0.0) { return inverseSqrt(d); }
  return 0.0;
}

@compute @workgroup_size(256)
fn laplacian(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.x + gid.y * groups.x * WG_SINGLE;
  let n = sizeParams.rows;
  if (i >= n * n) { return; }
  let row = i / n;
  let col = i % n;
  let w = weights[i];
  if (NORMALIZED) {
    var identity = 0.0;
    if (row == col) { identity = 1.0; }
    weights[i] = identity - w * inverseRootDegree(degreesIn[row]) * inverseRootDegree(degreesIn[col]);
  } else {
    var diagonal = 0.0;
    if (row == col) { diagonal = degreesIn[row]; }
    weights[i] = diagonal - w;
  }
}

@compute @workgroup_size(256)
fn null_vector(@builtin(local_invocation_id) lid: vec3<u32>) {
  let n = sizeParams.rows;
  var total = 0.0;
  if (NORMALIZED) {
    for (var j = lid.x; j < n; j += WG_SINGLE) { total += degreesIn[j]; }
  }
  let sum = treeSumWide(lid.x, total);
  for (var j = lid.x; j < n; j += WG_SINGLE) {
    if (NORMALIZED) {
      var u = 0.0;
      if (sum > 0.0) { u = sqrt(degreesIn[j]) * inverseSqrt(sum); }
      nullVector[j] = u;
    } else {
      nullVector[j] = inverseSqrt(f32(n));
    }
  }
}

fn weightKey(w: f32) -> u32 {
  if (w > 0.0) { return bitcast<u32>(w); }
  return 0u;
}

/** The workgroup's sum of `value` (every invocation gets it); callers keep control flow uniform. */
fn countSum(lid: u32, value: u32) -> u32 {
  counts[lid] = value;
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half /= 2u) {
    if (lid < half) { counts[lid] = counts[lid] + counts[lid + half]; }
    workgroupBarrier();
  }
  let total = counts[0];
  workgroupBarrier();   // everyone has read counts[0] before it is reused
  return total;
}

@compute @workgroup_size(64)
fn knn_mask(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let row = wid.x + wid.y * groups.x;
  let inRange = row < knnParams.rows;
  let n = knnParams.rows;
  let k = knnParams.neighbours;
  let base = row * n;
  // The largest key t with #{j != i: key_ij >= t} >= K, i.e. the K-th largest key (0 when the row has fewer than
  // K entries: then every entry is kept).
  var threshold = 0u;
  for (var b = 0u; b < 32u; b++) {
    let candidate = threshold | (0x80000000u >> b);
    var atLeast = 0u;
    if (inRange) {
      for (var j = lid.x; j < n; j += WG) {
        if (j != row && weightKey(weights[base + j]) >= candidate) { atLeast += 1u; }
      }
    }
    if (countSum(lid.x, atLeast) >= k) { threshold = candidate; }
  }
  // Keys above the threshold are kept; of those equal to it, the lowest-indexed K - #above. Each invocation owns
  // a contiguous run of columns, so the ties before its run are the sum of the lower invocations' tie counts.
  let chunk = (n + WG - 1u) / WG;
  let first = min(n, lid.x * chunk);
  let last = min(n, first + chunk);
  var above = 0u;
  var ties = 0u;
  if (inRange) {
    for (var j = first; j < last; j++) {
      let key = weightKey(weights[base + j]);
      if (j != row && key > threshold) { above += 1u; }
      if (j != row && key == threshold) { ties += 1u; }
    }
  }
  let totalAbove = countSum(lid.x, above);
  counts[lid.x] = ties;
  workgroupBarrier();
  var tiesBefore = 0u;
  for (var t = 0u; t < lid.x; t++) { tiesBefore += counts[t]; }
  var tieSeats = 0u;
  if (k > totalAbove) { tieSeats = k - totalAbove; }
  if (inRange) {
    for (var j = first; j < last; j++) {
      let key = weightKey(weights[base + j]);
      var kept = 0u;
      if (j != row && key > threshold) { kept = 1u; }
      if (j != row && key == threshold) {
        if (tiesBefore < tieSeats) { kept = 1u; }
        tiesBefore += 1u;
      }
      neighbourMask[base + j] = kept;
    }
  }
}

@compute @workgroup_size(64)
fn knn_symmetrize(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let n = sizeParams.rows;
  let sweep = rowSweep(wid, groups, n, n);
  let row = sweep.row;
  var degree = 0.0;
  for (var j = lid.x; j < sweep.end; j += WG) {
    var w = 0.0;
    if (neighbourMaskIn[row * n + j] != 0u) { w = denseWeights[row * n + j]; }
    if (neighbourMaskIn[j * n + row] != 0u) { w = max(w, denseWeights[j * n + row]); }
    degree += setWeight(row, n, j, w);
  }
  storeDegree(lid.x, row, sweep.inRange, degree);
}
