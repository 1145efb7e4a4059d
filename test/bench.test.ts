// The benchmark CLI as a user runs it, on tiny shapes: JSON records with every field, the --out file, usage
// errors (exit 2, one line), and the TF.js peers (devDependencies) computing the same matmul as ours.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

function bench(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'bench/run.ts', ...args], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  // Dawn prints 'Warning: ... artificially reduced' lines about limits on some drivers; they are not ours.
  const stderr = r.stderr.split('\n').filter((line) => line && !line.startsWith('Warning: ')).join('\n');
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr };
}

function records(stdout: string): Record<string, any>[] {
  const lines = stdout.trim().split('\n');
  return lines.map((line) => JSON.parse(line));
}

function assertFigure(r: Record<string, any>, suite: string, unit: string): void {
  assert.is(r.type, 'figure');
  assert.is(r.suite, suite);
  assert.is(r.unit, unit);
  assert.type(r.case, 'string');
  assert.ok(['saln', 'tfjs-webgpu', 'tfjs-wasm', 'pytorch-cpu'].includes(r.engine), r.engine);
  for (const k of ['median', 'min', 'max']) assert.ok(Number.isFinite(r[k]) && r[k] > 0, `${k} = ${r[k]}`);
  assert.ok(r.min <= r.median && r.median <= r.max, `min ${r.min} <= median ${r.median} <= max ${r.max}`);
  assert.ok(r.seconds.min <= r.seconds.median && r.seconds.median <= r.seconds.max);
  assert.type(r.adapter, 'string');
  assert.type(r.design, 'string');
  assert.ok(Number.isInteger(r.runs) && r.runs >= 1);
}

test('matmul --json prints one record per design with median, min and max; --out writes the same records', () => {
  const dir = mkdtempSync(join(tmpdir(), 'saln-bench-test-'));
  try {
    const out = join(dir, 'sub', 'bench.json');
    const r = bench(['matmul', '--shapes', '8x8x8,33x17x9', '--runs', '2', '--json', '--out', out]);
    assert.is(r.status, 0, r.stderr);
    const figures = records(r.stdout);
    assert.ok(figures.length >= 2);
    for (const f of figures) {
      assertFigure(f, 'matmul', 'GFLOP/s');
      assert.is(f.engine, 'saln');
      assert.is(f.runs, 2);
      assert.is(f.case, `${f.M}x${f.N}x${f.K}`);
      // The rate is the FLOP count over the time: 2*M*N*K.
      assert.ok(Math.abs(f.median - (2 * f.M * f.N * f.K) / f.seconds.median / 1e9) <= 1e-9 * f.median);
    }
    assert.equal(figures.filter((f) => f.default).map((f) => f.case), ['8x8x8', '33x17x9']);
    assert.equal(JSON.parse(readFileSync(out, 'utf8')), figures);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bn reports GB/s of batch-norm and ReLU, forward and backward, on ResNet-18 activation shapes', () => {
  const r = bench(['bn', '--stem', 'cifar', '--batch', '1', '--runs', '1', '--json']);
  assert.is(r.status, 0, r.stderr);
  const figures = records(r.stdout);
  for (const f of figures) assertFigure(f, 'bn', 'GB/s');
  assert.equal([...new Set(figures.map((f) => f.op))], ['bn train forward', 'bn backward', 'relu forward', 'relu backward']);
  assert.equal([...new Set(figures.map((f) => f.shape.join('x')))], ['1x32x32x64', '1x16x16x128', '1x8x8x256', '1x4x4x512']);
});

test('an unknown suite, or a flag no selected suite reads, is a one-line error and exit 2', () => {
  const unknown = bench(['frobnicate']);
  assert.is(unknown.status, 2);
  assert.is(unknown.stderr, "bench: unknown suite 'frobnicate'; one of matmul, conv, bn, step, select, data");
  assert.match(unknown.stdout, /^usage: npm run bench/);
  const stray = bench(['matmul', '--stem', 'cifar']);
  assert.is(stray.status, 2);
  assert.is(stray.stderr, 'bench: --stem is read by conv, bn, step, none of which is selected (matmul)');
  const viaSaln = spawnSync(process.execPath, [join(root, 'bin/saln.mjs'), 'bench', 'frobnicate'], { encoding: 'utf8', timeout: 60_000 });
  assert.is(viaSaln.status, 2);
  assert.match(viaSaln.stderr, /unknown suite 'frobnicate'/);
});

/**
 * The peers are devDependencies, installed wherever the tests can run (tsx and uvu are devDependencies too), so
 * a missing one is a broken install, not a reason to pass: it fails, naming the fix.
 */
function requireTfjs(): void {
  try {
    createRequire(import.meta.url).resolve('@tensorflow/tfjs-core');
  } catch {
    assert.unreachable('@tensorflow/tfjs-core (a devDependency) is not installed: run npm install (npm run setup) before the tests');
  }
}

test('--peers: TF.js computes the same matmul as ours (float64-checked), and each peer figure has its ratio', () => {
  requireTfjs();
  const r = bench(['matmul', '--shapes', '8x8x8,33x17x9', '--variants', 'naive', '--runs', '1', '--json', '--peers']);
  assert.is(r.status, 0, r.stderr);
  const figures = records(r.stdout);
  for (const f of figures) assertFigure(f, 'matmul', 'GFLOP/s');
  const engines = r.stderr.includes('peer tfjs-webgpu: unavailable') ? ['saln', 'tfjs-wasm'] : ['saln', 'tfjs-webgpu', 'tfjs-wasm'];
  for (const shape of ['8x8x8', '33x17x9']) {
    for (const engine of engines) {
      const f = figures.find((x) => x.case === shape && x.engine === engine && (engine !== 'saln' || x.default));
      assert.ok(f, `no ${engine} record for ${shape}`);
      // Every compared result is checked against a float64 reference at sampled outputs (see bench/check.ts).
      assert.is(f!.agrees, true);
      assert.ok(f!.checkedSamples >= 1);
      if (engine !== 'saln') assert.ok(Number.isFinite(f!.ratio) && f!.ratio > 0);
    }
  }
});

test("the Conv2DBackpropFilter kernel bench gives TF.js's WASM backend matches float64 (strides, 1x1, 7x7, odd sizes)", async () => {
  requireTfjs();
  const tf = await import('@tensorflow/tfjs-core');
  await import('@tensorflow/tfjs-backend-wasm');
  const { registerWasmConvFilterGrad } = await import('../bench/peers/wasm-conv-filter.ts');
  const { agreement, convWeightGradSamples, ohwiToHwioIndex } = await import('../bench/check.ts');
  const { uniformArray } = await import('../src/rng.ts');
  assert.ok(await tf.setBackend('wasm'));
  registerWasmConvFilterGrad(tf);
  for (const [H, C, Cout, k, stride, pad] of [[9, 5, 7, 3, 2, 1], [8, 3, 4, 1, 2, 0], [11, 3, 6, 7, 2, 3], [7, 2, 3, 3, 1, 1]]) {
    const N = 2, Ho = Math.floor((H + 2 * pad - k) / stride) + 1;
    const g = { N, H, W: H, C, Cout, k, stride, pad, Ho, Wo: Ho };
    const x = uniformArray(N * H * H * C, 9, 1, -1, 1), dy = uniformArray(N * Ho * Ho * Cout, 9, 2, -1, 1);
    const tx = tf.tensor4d(x, [N, H, H, C]), tdy = tf.tensor4d(dy, [N, Ho, Ho, Cout]);
    const attrs = { strides: stride, pad, dataFormat: 'NHWC', filterShape: [k, k, C, Cout] };
    const dw = tf.engine().runKernel('Conv2DBackpropFilter', { x: tx, dy: tdy }, attrs as never) as InstanceType<typeof tf.Tensor>;
    // Every output checked against its float64 sum, within the f32 summation bound of bench/check.ts.
    const a = agreement(dw.dataSync(), convWeightGradSamples(dy, x, g, Cout * k * k * C), ohwiToHwioIndex(g));
    assert.ok(a.agrees, `${JSON.stringify(g)}: ${a.detail}`);
    tf.dispose([tx, tdy, dw]);
  }
});

test.run();
