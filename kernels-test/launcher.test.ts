// The launcher's contract: arguments checked against the reflected WGSL, errors that name the kernel,
// compile errors with file:line:column, large grids folded into 2-D.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { getRuntime } from '../src/gpu/runtime.ts';
import { loadShader, registerShaderSource } from '../src/gpu/shaders.ts';
import { Tensor } from '../src/tensor.ts';
import { accumulate } from '../src/ops/elementwise.ts';
import { KernelArgumentError, ShaderCompileError } from '../src/gpu/errors.ts';

async function rejects(body: () => unknown, pattern: RegExp, type: Function): Promise<void> {
  try {
    await body();
  } catch (e) {
    assert.instance(e, type, `expected ${type.name}, got ${(e as Error).name}: ${(e as Error).message}`);
    assert.match((e as Error).message, pattern);
    return;
  }
  assert.unreachable(`expected an error matching ${pattern}`);
}

test('a misnamed binding names the kernel, the wrong name and the real ones', async () => {
  const rt = await getRuntime();
  const x = Tensor.empty(rt, [4]);
  await rejects(() => rt.launch({ shader: 'fill', entry: 'fill', bindings: { dest: x }, uniforms: { n: 4, value: 0, rowLen: 0 }, workgroups: 1 }),
    /kernel shaders\/fill\.wgsl:fill: binding 'dst' is missing \(it binds dst\)/, KernelArgumentError);
  await rejects(() => rt.launch({ shader: 'fill', entry: 'fill', bindings: { dst: x, extra: x }, uniforms: { n: 4, value: 0, rowLen: 0 }, workgroups: 1 }),
    /kernel shaders\/fill\.wgsl:fill: no binding named 'extra'/, KernelArgumentError);
  x.dispose();
});

test('a too-small buffer is refused before anything reaches the GPU', async () => {
  const rt = await getRuntime();
  const small = Tensor.empty(rt, [8]);
  const big = Tensor.empty(rt, [100]);
  const rows = Tensor.empty(rt, [1], 'u32');
  await rejects(() => rt.launch({ shader: 'fill', entry: 'gather_rows', bindings: { src: small, dst: big, rowIndex: rows }, needs: { src: 100, dst: 100 }, uniforms: { n: 100, value: 0, rowLen: 100 }, workgroups: 1 }),
    /kernel shaders\/fill\.wgsl:gather_rows: buffer for 'src' holds 32 bytes but the launch needs 400 \(100 elements of 4 bytes\)/, KernelArgumentError);
  small.dispose(); big.dispose(); rows.dispose();
});

test('missing, unknown and mis-sized uniform fields are named', async () => {
  const rt = await getRuntime();
  const x = Tensor.empty(rt, [4]);
  await rejects(() => rt.launch({ shader: 'fill', entry: 'fill', bindings: { dst: x }, uniforms: { n: 4, value: 0 }, workgroups: 1 }),
    /kernel shaders\/fill\.wgsl:fill: uniform field 'rowLen' is missing/, KernelArgumentError);
  await rejects(() => rt.launch({ shader: 'fill', entry: 'fill', bindings: { dst: x }, uniforms: { n: 4, value: 0, rowLen: 0, count: 3 }, workgroups: 1 }),
    /uniform struct has no field 'count'/, KernelArgumentError);
  await rejects(() => rt.launch({ shader: 'elementwise', entry: 'unary', bindings: { a: x, out: Tensor.empty(rt, [4]) }, uniforms: { n: 4, rank: 0, alpha: 0, beta: 0, outShapeLo: [1, 2], outShapeHi: [0, 0, 0, 0], aStridesLo: [0, 0, 0, 0], aStridesHi: [0, 0, 0, 0], bStridesLo: [0, 0, 0, 0], bStridesHi: [0, 0, 0, 0] }, workgroups: 1 }),
    /uniform field 'outShapeLo' takes 4 values, got 2/, KernelArgumentError);
  x.dispose();
});

test('an unknown entry point or override constant is named', async () => {
  const rt = await getRuntime();
  await rejects(() => rt.launch({ shader: 'fill', entry: 'nope', bindings: {}, workgroups: 1 }), /kernel shaders\/fill\.wgsl:nope: no compute entry point 'nope'; the file has fill, gather_rows/, KernelArgumentError);
  await rejects(() => rt.launch({ shader: 'fill', entry: 'fill', overrides: { TILE: 4 }, bindings: {}, workgroups: 1 }), /no override constant 'TILE'/, KernelArgumentError);
});

test('one buffer bound to a read and a writable binding is refused, even as separate ranges', async () => {
  const rt = await getRuntime();
  const x = Tensor.empty(rt, [16]);
  const rows = Tensor.empty(rt, [1], 'u32');
  const gather = (src: Tensor, dst: Tensor) => rt.launch({ shader: 'fill', entry: 'gather_rows', bindings: { src, dst, rowIndex: rows }, uniforms: { n: 4, value: 0, rowLen: 4 }, workgroups: 1 });
  await rejects(async () => gather(x, x), /one buffer is bound to 'src' and 'dst', one of them writable/, KernelArgumentError);
  await rejects(async () => gather(x.slice(0, [8]), x.slice(8, [8])), /one buffer is bound to 'src' and 'dst', one of them writable/, KernelArgumentError);
  x.dispose(); rows.dispose();
});

test('WGSL that does not compile reports file:line:column and the offending line', async () => {
  const rt = await getRuntime();
  registerShaderSource('broken_test', [
    'struct P { n: u32 }',
    '@group(0) @binding(0) var<uniform> p: P;',
    '@group(0) @binding(1) var<storage, read_write> out: array<f32>;',
    '@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) gid: vec3<u32>) {',
    '  out[gid.x] = undefinedThing * 2.0;',
    '}',
  ].join('\n'));
  const x = Tensor.empty(rt, [64]);
  rt.launch({ shader: 'broken_test', bindings: { out: x }, uniforms: { n: 64 }, workgroups: 1 });
  await rejects(() => rt.sync(), /kernel broken_test:main does not compile:\nbroken_test:5:16: error: unresolved value 'undefinedThing'\n\s+5 \|   out\[gid\.x\] = undefinedThing \* 2\.0;\n\s+\|\s+\^/, ShaderCompileError);
  // The device stays usable after the failed kernel.
  const y = Tensor.upload(rt, [1, 2, 3]);
  assert.equal([...await y.download()], [1, 2, 3]);
  x.dispose(); y.dispose();
});

test('a 1-D grid above 65,535 workgroups is folded into 2-D and covers every element', async () => {
  const rt = await getRuntime();
  // fill uses 256 lanes per workgroup: 65,537 * 256 + 3 elements need 65,538 workgroups.
  const n = 65537 * 256 + 3;
  const x = Tensor.empty(rt, [n]);
  rt.launch({ shader: 'fill', entry: 'fill', bindings: { dst: x }, needs: { dst: n }, uniforms: { n, value: 0, rowLen: 0 }, workgroups: 1 });
  rt.launch({ shader: 'fill', entry: 'fill', bindings: { dst: x }, needs: { dst: n }, uniforms: { n, value: 7, rowLen: 0 }, invocations: n });
  const data = await x.download();
  let wrong = 0;
  for (let i = 0; i < n; i++) if (data[i] !== 7) wrong++;
  assert.is(wrong, 0);
  x.dispose();
});

test('invocations are divided by the reflected workgroup size of the entry, per dimension', async () => {
  const rt = await getRuntime();
  // transpose runs 16 x 16 lanes per workgroup: 37 x 21 invocations need 3 x 2 workgroups.
  const rows = 21, cols = 37;
  const x = Tensor.upload(rt, Float32Array.from({ length: rows * cols }, (_, i) => i), [rows, cols]);
  const out = Tensor.empty(rt, [cols, rows]);
  rt.launch({ shader: 'transpose', bindings: { x, out }, needs: { x: x.size, out: out.size }, uniforms: { rows, cols }, invocations: [cols, rows, 1] });
  const data = await out.download();
  let wrong = 0;
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) if (data[c * rows + r] !== r * cols + c) wrong++;
  assert.is(wrong, 0);
  await rejects(() => rt.launch({ shader: 'fill', entry: 'fill', bindings: { dst: x }, uniforms: { n: 4, value: 0, rowLen: 0 }, invocations: 4, workgroups: 1 }),
    /kernel shaders\/fill\.wgsl:fill: give one of invocations, workgroups or elements/, KernelArgumentError);
  x.dispose(); out.dispose();
});

test('a flat pass launched by elements covers each element exactly once, whatever grid the adapter gets', async () => {
  const rt = await getRuntime();
  // 16,384 = 64 workgroups of 256 lanes, the CPU grid: below it each lane takes one element, above it a run of
  // several; sizes off multiples of 8 leave a partial run at the end.
  for (const n of [1, 7, 16383, 16385, 100_003]) {
    const a = Tensor.upload(rt, Float32Array.from({ length: n }, (_, i) => i % 1000));
    const target = Tensor.upload(rt, new Float32Array(n).fill(1));
    accumulate(target, a, 2);   // launched with elements: n
    const data = await target.download();
    let wrong = 0;
    for (let i = 0; i < n; i++) if (data[i] !== 1 + 2 * (i % 1000)) wrong++;
    assert.is(wrong, 0, `n = ${n}`);
    a.dispose(); target.dispose();
  }
});

test('a launch hook sees every launch and may change it (how tests inject faults)', async () => {
  const rt = await getRuntime();
  const x = Tensor.empty(rt, [8]);
  const seen: string[] = [];
  rt.hooks.launch = (spec) => {
    seen.push(`${spec.shader}:${spec.entry}`);
    return spec.entry === 'fill' ? { ...spec, uniforms: { ...spec.uniforms, value: 5 } } : spec;
  };
  try {
    rt.launch({ shader: 'fill', entry: 'fill', bindings: { dst: x }, needs: { dst: 8 }, uniforms: { n: 8, value: 1, rowLen: 0 }, invocations: 8 });
  } finally {
    delete rt.hooks.launch;
  }
  assert.equal(seen, ['fill:fill']);
  assert.equal([...await x.download()], new Array(8).fill(5));
  x.dispose();
});

test('#import pieces are resolved before compilation, and errors keep their own file and line', async () => {
  const rt = await getRuntime();
  const matmul = loadShader('matmul');
  assert.ok(!/^#import/m.test(matmul.text), 'an #import line reached the compiler');
  assert.ok(matmul.text.includes('fn store4('), 'store4 was not imported');
  const storeLine = matmul.text.split('\n').findIndex((line) => line.startsWith('fn store4(')) + 1;
  assert.equal(matmul.origins[storeLine - 1], { file: 'shaders/lib/store4.wgsl', line: 3 });
  registerShaderSource('imports_test', [
    'struct P { n: u32 }',
    '@group(0) @binding(0) var<uniform> p: P;',
    '@group(0) @binding(1) var<storage, read_write> out: array<f32>;',
    '#import tree_sum',
    '#import tree_sum',
    '@compute @workgroup_size(64) fn main(@builtin(local_invocation_id) lid: vec3<u32>) {',
    '  out[lid.x] = treeSum(lid.x, 1.0) + missingThing;',
    '}',
  ].join('\n'));
  const source = loadShader('imports_test');
  assert.is(source.text.split('\n').filter((line) => line.startsWith('fn treeSum(')).length, 1, 'a piece imported twice is included once');
  const x = Tensor.empty(rt, [64]);
  rt.launch({ shader: 'imports_test', bindings: { out: x }, uniforms: { n: 64 }, workgroups: 1 });
  await rejects(() => rt.sync(), /imports_test:7:\d+: error: unresolved value 'missingThing'\n\s+7 \|   out\[lid\.x\] = treeSum/, ShaderCompileError);
  registerShaderSource('imports_missing', '#import no_such_piece\n');
  await rejects(() => loadShader('imports_missing'), /imports_missing:1: #import no_such_piece: no file shaders\/lib\/no_such_piece\.wgsl/, ShaderCompileError);
  x.dispose();
});

test.run();
