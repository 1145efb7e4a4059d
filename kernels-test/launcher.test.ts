// The launcher's contract: arguments checked against the reflected WGSL, errors that name the kernel,
// compile errors with file:line:column, large grids folded into 2-D.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { getRuntime } from '../src/gpu/runtime.ts';
import { registerShaderSource } from '../src/gpu/shaders.ts';
import { Tensor } from '../src/tensor.ts';
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
  await rejects(() => rt.launch({ shader: 'fill', entry: 'fill', bindings: { dest: x }, uniforms: { n: 4, value: 0, srcOffset: 0, dstOffset: 0, rowLen: 0 }, workgroups: 1 }),
    /kernel shaders\/fill\.wgsl:fill: binding 'dst' is missing \(it binds dst\)/, KernelArgumentError);
  await rejects(() => rt.launch({ shader: 'fill', entry: 'fill', bindings: { dst: x, extra: x }, uniforms: { n: 4, value: 0, srcOffset: 0, dstOffset: 0, rowLen: 0 }, workgroups: 1 }),
    /kernel shaders\/fill\.wgsl:fill: no binding named 'extra'/, KernelArgumentError);
  x.dispose();
});

test('a too-small buffer is refused before anything reaches the GPU', async () => {
  const rt = await getRuntime();
  const small = Tensor.empty(rt, [8]);
  const big = Tensor.empty(rt, [100]);
  await rejects(() => rt.launch({ shader: 'fill', entry: 'copy', bindings: { src: small, dst: big }, needs: { src: 100, dst: 100 }, uniforms: { n: 100, value: 0, srcOffset: 0, dstOffset: 0, rowLen: 0 }, workgroups: 1 }),
    /kernel shaders\/fill\.wgsl:copy: buffer for 'src' holds 32 bytes but the launch needs 400 \(100 elements of 4 bytes\)/, KernelArgumentError);
  small.dispose(); big.dispose();
});

test('missing, unknown and mis-sized uniform fields are named', async () => {
  const rt = await getRuntime();
  const x = Tensor.empty(rt, [4]);
  await rejects(() => rt.launch({ shader: 'fill', entry: 'fill', bindings: { dst: x }, uniforms: { n: 4, value: 0, srcOffset: 0 }, workgroups: 1 }),
    /kernel shaders\/fill\.wgsl:fill: uniform field 'dstOffset' is missing/, KernelArgumentError);
  await rejects(() => rt.launch({ shader: 'fill', entry: 'fill', bindings: { dst: x }, uniforms: { n: 4, value: 0, srcOffset: 0, dstOffset: 0, count: 3 }, workgroups: 1 }),
    /uniform struct has no field 'count'/, KernelArgumentError);
  await rejects(() => rt.launch({ shader: 'elementwise', entry: 'unary', bindings: { a: x, out: Tensor.empty(rt, [4]) }, uniforms: { n: 4, rank: 0, alpha: 0, beta: 0, outShapeLo: [1, 2], outShapeHi: [0, 0, 0, 0], aStridesLo: [0, 0, 0, 0], aStridesHi: [0, 0, 0, 0], bStridesLo: [0, 0, 0, 0], bStridesHi: [0, 0, 0, 0] }, workgroups: 1 }),
    /uniform field 'outShapeLo' takes 4 values, got 2/, KernelArgumentError);
  x.dispose();
});

test('an unknown entry point or override constant is named', async () => {
  const rt = await getRuntime();
  await rejects(() => rt.launch({ shader: 'fill', entry: 'nope', bindings: {}, workgroups: 1 }), /kernel shaders\/fill\.wgsl:nope: no compute entry point 'nope'; the file has fill, copy/, KernelArgumentError);
  await rejects(() => rt.launch({ shader: 'fill', entry: 'fill', overrides: { TILE: 4 }, bindings: {}, workgroups: 1 }), /no override constant 'TILE'/, KernelArgumentError);
});

test('the same buffer bound to a read and a writable binding is refused', async () => {
  const rt = await getRuntime();
  const x = Tensor.empty(rt, [16]);
  await rejects(() => rt.launch({ shader: 'fill', entry: 'copy', bindings: { src: x, dst: x }, uniforms: { n: 16, value: 0, srcOffset: 0, dstOffset: 0, rowLen: 0 }, workgroups: 1 }),
    /same buffer range is bound to 'src' and 'dst'/, KernelArgumentError);
  x.dispose();
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
  rt.launch({ shader: 'fill', entry: 'fill', bindings: { dst: x }, needs: { dst: n }, uniforms: { n, value: 0, srcOffset: 0, dstOffset: 0, rowLen: 0 }, workgroups: 1 });
  rt.launch({ shader: 'fill', entry: 'fill', bindings: { dst: x }, needs: { dst: n }, uniforms: { n, value: 7, srcOffset: 0, dstOffset: 0, rowLen: 0 }, workgroups: Math.ceil(n / 256) });
  const data = await x.download();
  let wrong = 0;
  for (let i = 0; i < n; i++) if (data[i] !== 7) wrong++;
  assert.is(wrong, 0);
  x.dispose();
});

test.run();
