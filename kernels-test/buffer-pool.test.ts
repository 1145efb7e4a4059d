// The buffer pool: reuse after submit, live and peak bytes, and no growth over many launches.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { getRuntime } from '../src/gpu/runtime.ts';
import { Tensor } from '../src/tensor.ts';
import { sizeClass } from '../src/gpu/pool.ts';
import { add, unary } from '../src/ops/elementwise.ts';
import { matmul } from '../src/ops/matmul.ts';
import { sum } from '../src/ops/reduce.ts';

test('size classes round up by at most 12.5% above 1 MiB', () => {
  assert.is(sizeClass(1), 16);
  assert.is(sizeClass(1000), 1024);
  for (const bytes of [1_048_577, 3_000_000, 123_456_789]) {
    const c = sizeClass(bytes);
    assert.ok(c >= bytes && c <= bytes * 1.125 + 16, `${bytes} -> ${c}`);
  }
});

test('live bytes return to where they started after 1,000 launches', async () => {
  const rt = await getRuntime();
  await rt.sync();
  const before = rt.pool.report();
  const x = Tensor.upload(rt, new Float32Array(300).fill(1), [20, 15]);
  const w = Tensor.upload(rt, new Float32Array(15 * 7).fill(0.5), [15, 7]);
  const step = () => {
    const y = matmul(x, w);
    const z = unary('relu', y);
    const s = add(z, z);
    const t = sum(s, 1);
    y.dispose(); z.dispose(); s.dispose(); t.dispose();
  };
  // One round: 125 steps, then a result read back (its staging buffer included), then a submit.
  const round = async () => {
    for (let i = 0; i < 125; i++) step();
    const product = matmul(x, w);
    const last = sum(product, 1);
    assert.equal([...await last.download()].slice(0, 2), [52.5, 52.5]);
    product.dispose(); last.dispose();
    await rt.sync();
  };
  // Buffers released inside one unsubmitted batch cannot be reused yet, so the first round allocates whatever
  // this file's earlier tests (or none) left in the pool; the same round again must be served by reuse alone,
  // whichever files ran before.
  await round();
  const warm = rt.pool.report();
  await round();
  const again = rt.pool.report();
  x.dispose(); w.dispose();
  await rt.sync();
  const after = rt.pool.report();
  assert.is(after.liveBytes, before.liveBytes, `live bytes ${before.liveBytes} -> ${after.liveBytes}`);
  assert.is(again.createdBuffers, warm.createdBuffers, `created ${again.createdBuffers - warm.createdBuffers} new buffers in the warm round`);
});

test('a buffer is reused only after the submit that used it', async () => {
  const rt = await getRuntime();
  await rt.sync();
  const a = Tensor.empty(rt, [1000]);
  const buffer = a.buffer;
  a.dispose();
  const b = Tensor.empty(rt, [1000]);
  assert.is.not(b.buffer, buffer, 'a released buffer was handed out before any submit');
  rt.flush();
  const c = Tensor.empty(rt, [1000]);
  assert.is(c.buffer, buffer, 'the released buffer was not reused after the submit');
  b.dispose(); c.dispose();
});

test('peak bytes track the high-water mark, and disposing twice is harmless', async () => {
  const rt = await getRuntime();
  await rt.sync();
  rt.pool.resetPeak();
  const start = rt.pool.report().liveBytes;
  const big = Tensor.empty(rt, [1 << 20]);
  assert.ok(rt.pool.report().peakBytes >= start + (4 << 20));
  big.dispose();
  big.dispose();
  assert.is(rt.pool.report().liveBytes, start);
  assert.throws(() => big.buffer, /used after dispose/);
});

test('a scope frees what its block created, except what it returns or keeps; async blocks too', async () => {
  const rt = await getRuntime();
  await rt.sync();
  const before = rt.pool.report().liveBytes;
  const outside = Tensor.upload(rt, [1, 2, 3, 4]);
  let temporary: Tensor | null = null, kept: Tensor | null = null;
  const { result } = rt.scope(() => {
    temporary = add(outside, outside);
    kept = rt.keep(unary('neg', outside));
    const view = add(temporary, outside).reshape([2, 2]);
    return { result: view };
  });
  assert.ok(temporary!.disposed, 'a temporary survived its scope');
  assert.not.ok(kept!.disposed);
  assert.not.ok(outside.disposed, 'a tensor created before the scope was freed');
  assert.equal([...await result.download()], [3, 6, 9, 12], 'a returned view lost its buffer');
  const inner = await rt.scope(async () => {
    const a = add(outside, outside);
    await rt.sync();
    const nested = rt.scope(() => add(a, outside));
    return sum(nested, 0);
  });
  assert.equal([...await inner.download()], [30]);
  for (const t of [outside, kept!, result.base, inner]) t.dispose();
  await rt.sync();
  assert.is(rt.pool.report().liveBytes, before, 'the scopes leaked buffers');
});

test.run();
