// The GPU Lanczos eigensolver: its kernels against float64 references (validation cases), the dense Jacobi
// reference against a matrix of known spectrum, the tridiagonal QL against Jacobi, and the lowest eigenpairs
// of random symmetric matrices and graph Laplacians (B = 8 .. 512) against Jacobi, with the error bounds of
// the residual: for a unit y and its Ritz value theta, some eigenvalue lies within r = |A y - theta y|, and the
// angle between y and the eigenspace of the eigenvalues near theta is at most r / gap (Davis-Kahan), gap being
// the distance from theta to the rest of the spectrum. r is recomputed here in float64 from the downloaded Ritz
// vector, so the bounds do not trust the GPU's own arithmetic.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { getRuntime } from '../src/gpu/runtime.ts';
import { Tensor } from '../src/tensor.ts';
import { uniformArray } from '../src/rng.ts';
import { lanczos, type LanczosOptions } from '../src/linalg/lanczos.ts';
import { tridiagonalEigen } from '../src/linalg/tridiagonal.ts';
import { jacobiEigen } from '../src/reference/jacobi.ts';
import { deflatedEigen, laplacianReference } from '../src/reference/saln.ts';

const rt = await getRuntime();

// ---- the kernels ---------------------------------------------------------------------------------------------

// The graph and Lanczos kernels' validation cases run in kernels.test.ts with every other kernel's.
// ---- inputs ----------------------------------------------------------------------------------------------

function randomSymmetric(n: number, seed: number): Float32Array {
  const raw = uniformArray(n * n, seed, n, -1, 1);
  const a = new Float32Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) a[i * n + j] = raw[Math.min(i, j) * n + Math.max(i, j)];
  return a;
}

/** D - W of a random graph: weights uniform in [0, 1) with a few strong edges, as f32. */
function randomLaplacian(n: number, seed: number): Float32Array {
  const raw = uniformArray(n * n, seed, n + 1, 0, 1);
  const w = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (i !== j) w[i * n + j] = Math.fround(raw[Math.min(i, j) * n + Math.max(i, j)] ** 3);
  const degrees = Float64Array.from({ length: n }, (_, i) => { let d = 0; for (let j = 0; j < n; j++) d += w[i * n + j]; return d; });
  return Float32Array.from(laplacianReference(w, degrees, n, 'unnormalized'));
}

/** H diag(values) H with the Householder reflector H = I - 2 h h^T / |h|^2: a symmetric matrix of known spectrum. */
function knownSpectrum(values: number[], seed: number): { a: Float64Array; vectors: Float64Array } {
  const n = values.length;
  const h = Float64Array.from(uniformArray(n, seed, 0, -1, 1));
  const hh = h.reduce((s, x) => s + x * x, 0);
  const reflector = (i: number, j: number) => (i === j ? 1 : 0) - (2 * h[i] * h[j]) / hh;
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) for (let k = 0; k < n; k++) a[i * n + j] += reflector(i, k) * values[k] * reflector(k, j);
  // Column k of H is the eigenvector of values[k] (H is symmetric, so row k too).
  const vectors = Float64Array.from({ length: n * n }, (_, index) => reflector(Math.floor(index / n), index % n));
  return { a, vectors };
}

function infinityNorm(a: ArrayLike<number>, n: number): number {
  let worst = 0;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += Math.abs(a[i * n + j]);
    worst = Math.max(worst, s);
  }
  return worst;
}

async function rejects(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  try {
    await promise;
  } catch (e) {
    assert.match((e as Error).message, pattern);
    return;
  }
  assert.unreachable(`expected an error matching ${pattern}`);
}

const dot = (x: ArrayLike<number>, y: ArrayLike<number>) => { let s = 0; for (let i = 0; i < x.length; i++) s += x[i] * y[i]; return s; };

// ---- the references ----------------------------------------------------------------------------------------

test('Jacobi recovers a known spectrum: values, vectors up to sign, orthonormality, A v = lambda v', () => {
  for (const values of [[3], [-1, 2], [5, -3, 0.5, 0, 2, 1e-3, -7], Array.from({ length: 40 }, (_, i) => (i * 7) % 40 - 13.5)]) {
    const n = values.length;
    const { a, vectors } = knownSpectrum(values, n);
    const eigen = jacobiEigen(a, n);
    const sorted = [...values].sort((x, y) => x - y);
    const scale = infinityNorm(a, n);
    // Jacobi is backward stable: eigenvalue errors of a few eps |A|, each 2x2 rotation adding O(eps).
    sorted.forEach((v, k) => assert.ok(Math.abs(eigen.values[k] - v) <= 1e-13 * scale, `n=${n} value ${k}: ${eigen.values[k]} vs ${v}`));
    for (let k = 0; k < n; k++) {
      const y = eigen.vectors.subarray(k * n, (k + 1) * n);
      const source = values.indexOf(sorted[k]);
      // Distinct values: the eigenvector is unique up to sign, and the gaps here are >= 1e-3 so the angle is tiny.
      assert.ok(1 - Math.abs(dot(y, vectors.subarray(source * n, (source + 1) * n))) <= 1e-12, `n=${n} vector ${k}`);
      for (let l = 0; l <= k; l++) assert.ok(Math.abs(dot(y, eigen.vectors.subarray(l * n, (l + 1) * n)) - (k === l ? 1 : 0)) <= 1e-13, `orthonormality ${k},${l}`);
    }
  }
  assert.is(jacobiEigen(new Float64Array([2, 0, 0, 1]), 2).sweeps, 0, 'a diagonal matrix needs no sweep');
  assert.throws(() => jacobiEigen([1, 2, 3], 2), /order 2 has 4 entries/);
});

test('the tridiagonal QL agrees with Jacobi (values, vectors up to sign, last row without vectors)', () => {
  for (const m of [1, 2, 3, 7, 40]) {
    const diag = uniformArray(m, 11, m, -2, 2), off = uniformArray(Math.max(0, m - 1), 12, m, -1, 1);
    const dense = new Float64Array(m * m);
    for (let i = 0; i < m; i++) {
      dense[i * m + i] = diag[i];
      if (i + 1 < m) { dense[i * m + i + 1] = off[i]; dense[(i + 1) * m + i] = off[i]; }
    }
    const ref = jacobiEigen(dense, m);
    const full = tridiagonalEigen(diag, off, true);
    const partial = tridiagonalEigen(diag, off, false);
    for (let k = 0; k < m; k++) {
      assert.ok(Math.abs(full.values[k] - ref.values[k]) <= 1e-13, `m=${m} value ${k}`);
      assert.ok(Math.abs(partial.values[k] - full.values[k]) <= 1e-13, `m=${m} value ${k} without vectors`);
      const y = full.vectors!.subarray(k * m, (k + 1) * m);
      assert.ok(1 - Math.abs(dot(y, ref.vectors.subarray(k * m, (k + 1) * m))) <= 1e-10, `m=${m} vector ${k}`);
      assert.ok(Math.abs(full.lastRow[k] - y[m - 1]) <= 1e-15 && Math.abs(partial.lastRow[k] - y[m - 1]) <= 1e-12, `m=${m} last row ${k}`);
    }
  }
  // A zero off-diagonal splits the matrix: the blocks' eigenvalues, exactly.
  assert.equal(Array.from(tridiagonalEigen([3, 1, 2], [0, 0], false).values), [1, 2, 3]);
});

// ---- Lanczos against Jacobi --------------------------------------------------------------------------------

interface Check { n: number; count: number; tolerance: number; iterations: number; worstResidual: number }

/**
 * Runs Lanczos on `a` (deflating `nullVector` if given) and checks its `count` lowest pairs against Jacobi: the
 * Ritz value within the float64 residual r of the matching eigenvalue; the Ritz vector within r / gap of the
 * eigenspace of the eigenvalues within `cluster` of it (a subspace, so near-degenerate pairs compare fairly);
 * r itself below the requested tolerance plus f32 rounding; the GPU's residual and the vectors' orthonormality.
 */
async function checkAgainstJacobi(a: Float32Array, n: number, count: number, options: LanczosOptions & { nullVector?: Float64Array }): Promise<Check> {
  const ta = Tensor.upload(rt, a, [n, n]);
  const td = options.nullVector ? Tensor.upload(rt, Float32Array.from(options.nullVector), [1, n]) : undefined;
  const live = rt.pool.report().liveBytes;
  const result = await lanczos(rt, ta, { ...options, count, deflate: td });
  const y = await result.vectors.download();
  result.vectors.dispose();
  assert.is(rt.pool.report().liveBytes, live, 'lanczos leaves nothing allocated but its result');
  ta.dispose(); td?.dispose();
  assert.ok(result.converged, `n=${n}: not converged in ${result.iterations} steps`);
  const eigen = deflatedEigen(a, options.nullVector ?? new Float64Array(n), n);
  const m = eigen.shifted;
  const scale = infinityNorm(a, n);
  const tolerance = options.tolerance!;
  let worstResidual = 0;
  for (let v = 0; v < count; v++) {
    const yv = Float64Array.from(y.subarray(v * n, (v + 1) * n));
    const length = Math.sqrt(dot(yv, yv));
    yv.forEach((x, i) => { yv[i] = x / length; });
    const theta = result.values[v];
    const residual = Math.sqrt(Array.from({ length: n }, (_, i) => {
      let s = 0;
      for (let k = 0; k < n; k++) s += m[i * n + k] * yv[k];
      return (s - theta * yv[i]) ** 2;
    }).reduce((p, q) => p + q, 0));
    worstResidual = Math.max(worstResidual, residual / scale);
    // The stop asks |beta s| <= tolerance |T|; the true residual adds the f32 rounding of the mat-vecs and of the
    // Ritz vector's assembly, gamma_n |A| at most (n u |A|_inf).
    assert.ok(residual <= tolerance * scale + n * 2 ** -24 * scale, `n=${n} pair ${v}: residual ${residual} vs ${tolerance} |A| = ${tolerance * scale}`);
    // The GPU's own residual agrees within its f32 rounding (the same gamma_n |A| bound).
    assert.ok(Math.abs(result.residuals[v] - residual) <= n * 2 ** -24 * scale + 1e-6 * residual, `n=${n} pair ${v}: GPU residual ${result.residuals[v]} vs ${residual}`);
    assert.ok(Math.abs(theta - eigen.values[v]) <= residual + 1e-12 * scale, `n=${n} value ${v}: ${theta} vs ${eigen.values[v]} (residual ${residual})`);
    const cluster = 1e-3 * scale;
    const members: number[] = [];
    let gap = Infinity;
    eigen.values.forEach((lambda, j) => {
      if (Math.abs(lambda - theta) <= cluster) members.push(j);
      else gap = Math.min(gap, Math.abs(lambda - theta));
    });
    let inside = 0;
    for (const j of members) inside += dot(yv, eigen.vectors.subarray(j * n, (j + 1) * n)) ** 2;
    const sine = Math.sqrt(Math.max(0, 1 - inside));
    assert.ok(sine <= residual / gap + 1e-9, `n=${n} vector ${v}: sin angle ${sine} > r / gap = ${residual / gap} (${members.length} in its cluster)`);
    for (let w = 0; w <= v; w++) {
      const overlap = dot(yv, y.subarray(w * n, (w + 1) * n)) / (w === v ? length : Math.sqrt(dot(y.subarray(w * n, (w + 1) * n), y.subarray(w * n, (w + 1) * n))));
      assert.ok(Math.abs(overlap - (w === v ? 1 : 0)) <= 1e-5, `n=${n}: Ritz vectors ${v} and ${w} overlap ${overlap}`);
    }
  }
  return { n, count, tolerance, iterations: result.iterations, worstResidual };
}

test('lowest 3 pairs of random symmetric matrices (B = 8, 16, 64, 128) match Jacobi', async () => {
  for (const n of [8, 16, 64, 128]) {
    await checkAgainstJacobi(randomSymmetric(n, 21), n, 3, { maxSteps: n, tolerance: 1e-5, seed: 3 });
  }
});

test('graph Laplacians (B = 8, 16, 64, 128, 512): with the null vector deflated, the lowest pairs are the Fiedler pair and the next', async () => {
  for (const n of [8, 16, 64, 128, 512]) {
    const nullVector = new Float64Array(n).fill(1 / Math.sqrt(n));
    // The 512 case spends its time in Jacobi (~10 s on 2 cores); one pair keeps Lanczos short there.
    await checkAgainstJacobi(randomLaplacian(n, 22), n, n === 512 ? 1 : 2, { maxSteps: n, tolerance: 1e-5, seed: 4, nullVector });
  }
});

// ---- behaviour -------------------------------------------------------------------------------------------

test('an exhausted Krylov space stops Lanczos with exact pairs, not NaN: c I, the zero matrix, two eigenvalues', async () => {
  const n = 12;
  for (const [name, a, expected] of [
    ['3 I', Float32Array.from({ length: n * n }, (_, i) => (i % (n + 1) === 0 ? 3 : 0)), [3]],
    ['zero', new Float32Array(n * n), [0]],
  ] as const) {
    const ta = Tensor.upload(rt, a, [n, n]);
    const result = await lanczos(rt, ta, { count: 2, seed: 1 });
    const y = await result.vectors.download();
    assert.is(result.iterations, 1, `${name}: the first step spans an invariant subspace`);
    assert.equal(result.values, [...expected], name);
    assert.ok(result.converged && y.every(Number.isFinite) && Math.abs(dot(y, y) - 1) < 1e-6, `${name}: a unit Ritz vector`);
    ta.dispose(); result.vectors.dispose();
  }
  // diag(1, ..., 1, 5, ..., 5): two distinct eigenvalues, so step 2 is the last.
  const a = Float32Array.from({ length: n * n }, (_, i) => (i % (n + 1) === 0 ? (i < (n * n) / 2 ? 1 : 5) : 0));
  const ta = Tensor.upload(rt, a, [n, n]);
  const result = await lanczos(rt, ta, { count: 2, seed: 1 });
  assert.is(result.iterations, 2);
  assert.ok(Math.abs(result.values[0] - 1) < 1e-6 && Math.abs(result.values[1] - 5) < 1e-5, `${result.values}`);
  ta.dispose(); result.vectors.dispose();
});

test('the result does not depend on how often alpha and beta are read back; few submits per step', async () => {
  const n = 96;
  const ta = Tensor.upload(rt, randomLaplacian(n, 30), [n, n]);
  const td = Tensor.upload(rt, new Float32Array(n).fill(1 / Math.sqrt(n)), [1, n]);
  const runs: { values: number[]; vector: Float32Array; iterations: number; submits: number }[] = [];
  for (const checkEvery of [1, 5, 8, 64]) {
    const submits = rt.counters.submits;
    const result = await lanczos(rt, ta, { deflate: td, checkEvery, seed: 9, tolerance: 1e-5 });
    runs.push({ values: result.values, vector: await result.vectors.download() as Float32Array, iterations: result.iterations, submits: rt.counters.submits - submits });
    result.vectors.dispose();
  }
  for (const r of runs.slice(1)) {
    assert.is(r.iterations, runs[0].iterations);
    assert.equal(r.values, runs[0].values);
    assert.equal(Array.from(r.vector), Array.from(runs[0].vector), 'bit-identical Ritz vectors');
  }
  // checkEvery = 8: one readback (a submit) per 8 steps, one more for the residuals, none per kernel.
  assert.ok(runs[2].submits <= Math.ceil(runs[2].iterations / 8) + 3, `${runs[2].submits} submits for ${runs[2].iterations} steps`);
  ta.dispose(); td.dispose();
});

test('the same seed gives the same pairs; bad arguments are one-line errors', async () => {
  const n = 20;
  const ta = Tensor.upload(rt, randomSymmetric(n, 40), [n, n]);
  const first = await lanczos(rt, ta, { seed: 7, count: 2 });
  const second = await lanczos(rt, ta, { seed: 7, count: 2 });
  assert.equal(Array.from(await first.vectors.download()), Array.from(await second.vectors.download()));
  first.vectors.dispose(); second.vectors.dispose();
  const full = Tensor.upload(rt, new Float32Array(n * n), [n, n]);
  const notSquare = Tensor.empty(rt, [3, 4]);
  const axis = Float32Array.from({ length: n }, (_, i) => (i === 0 ? 1 : 0));
  const deflateAxis = Tensor.upload(rt, axis, [1, n]);
  const live = rt.pool.report().liveBytes;
  await rejects(lanczos(rt, ta, { start: [1, 2] }), /start vector has 2 entries/);
  await rejects(lanczos(rt, ta, { count: 0 }), /count must be a positive integer/);
  await rejects(lanczos(rt, ta, { deflate: full }), /nothing is left of 20 dimensions/);
  await rejects(lanczos(rt, notSquare), /must be square/);
  await rejects(lanczos(rt, ta, { deflate: deflateAxis, start: axis }), /the start vector lies in the deflated space/);
  assert.is(rt.pool.report().liveBytes, live, 'a rejected call allocates nothing');
  ta.dispose(); full.dispose(); notSquare.dispose(); deflateAxis.dispose();
});

test.run();
