// Matmul specifics beyond the reference cases: the shapes ResNet-18 produces, and sizes that need 2-D grids.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { getRuntime } from '../src/gpu/runtime.ts';
import { Tensor } from '../src/tensor.ts';
import { uniformArray } from '../src/rng.ts';
import { matmul, MATMUL_VARIANTS } from '../src/ops/matmul.ts';
import { matmulReference } from '../src/reference/matmul.ts';
import { compare, F32_EPS } from '../src/reference/compare.ts';

test('every design agrees with the reference on a conv-shaped problem (196 x 64 x 576)', async () => {
  const rt = await getRuntime();
  const [M, N, K] = [196, 64, 576];
  const a = uniformArray(M * K, 11, 1, -1, 1), b = uniformArray(K * N, 11, 2, -1, 1);
  const ref = matmulReference(a, b, { M, N, K, batchA: 1, batchB: 1 });
  const ta = Tensor.upload(rt, a, [M, K]), tb = Tensor.upload(rt, b, [K, N]);
  for (const variant of MATMUL_VARIANTS) {
    const c = matmul(ta, tb, { variant });
    const r = compare(await c.download(), ref, { atol: K * F32_EPS * K, rtol: 0 });
    c.dispose();
    assert.ok(r.pass, `${variant}: max abs error ${r.maxAbs}`);
    // A correct kernel lands far inside the worst-case bound; a dropped k-term would not.
    assert.ok(r.maxAbs < 1e-3, `${variant}: max abs error ${r.maxAbs} is suspiciously large`);
  }
  ta.dispose(); tb.dispose();
});

test('K = 0 gives zeros and an empty operand gives an empty result', async () => {
  const rt = await getRuntime();
  const c = matmul(Tensor.empty(rt, [3, 0]), Tensor.empty(rt, [0, 5]));
  assert.equal(c.shape, [3, 5]);
  assert.equal([...await c.download()], new Array(15).fill(0));
  const e = matmul(Tensor.empty(rt, [0, 4]), Tensor.empty(rt, [4, 5]));
  assert.equal(e.shape, [0, 5]);
});

test('mismatched inner dimensions are rejected with both shapes named', async () => {
  const rt = await getRuntime();
  assert.throws(() => matmul(Tensor.empty(rt, [3, 4]), Tensor.empty(rt, [5, 6])), /inner dimensions differ: A is \[3,4\], B is \[5,6\]/);
});

test.run();
