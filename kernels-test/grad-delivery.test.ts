// How parameter gradients land in their slots: after zeroGrads the first gradient is copied in (the queue's copy),
// every later one is added, and a slot that receives nothing stays zero. Small integers keep every sum exact, so
// the comparisons are exact.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { getRuntime } from '../src/gpu/runtime.ts';
import { Tensor } from '../src/tensor.ts';
import { Tape, Var } from '../src/autograd.ts';
import { addRelu, linear, relu } from '../src/nn/functional.ts';
import { ParameterStore } from '../src/nn/parameters.ts';

const rt = await getRuntime();
const store = new ParameterStore(rt, [
  { name: 'w', shape: [3, 4], kind: 'parameter', decay: true, init: 'zeros' },
  { name: 'unused', shape: [5], kind: 'parameter', decay: false, init: 'zeros' },
]);
const w = store.param('w');
w.value.upload(Float32Array.from({ length: 12 }, (_, i) => 1 + (i % 5)));
const xData = Float32Array.from({ length: 8 }, (_, i) => 1 + (i % 3));   // [2, 4], positive: relu passes everything

/** One backward pass into the slots; `twice` uses w in two branches that are summed. */
async function backwardOnce(twice: boolean): Promise<void> {
  const tape = new Tape();
  const x = new Var(Tensor.upload(rt, xData, [2, 4]));
  const root = twice ? addRelu(tape, linear(tape, x, w, null), linear(tape, x, w, null)) : relu(tape, linear(tape, x, w, null));
  tape.backward(root, Tensor.upload(rt, [1, 2, 3, 4, 5, 6], [2, 3]));
  x.value.dispose();
}

const gradOf = async (name: string) => Array.from(await store.param(name).gradTarget!.download() as Float32Array);

test('the first gradient after zeroGrads is copied in; later ones add; untouched slots stay zero', async () => {
  store.zeroGrads();
  await backwardOnce(false);
  const once = await gradOf('w');
  assert.ok(once.some((v) => v !== 0), 'the gradient is not all zeros');
  assert.equal(await gradOf('unused'), [0, 0, 0, 0, 0]);

  // Forced through the add (the slot is zero, so 0 + g must equal the copy exactly).
  store.zeroGrads();
  w.gradTargetZeroed = false;
  await backwardOnce(false);
  assert.equal(await gradOf('w'), once);

  // Two branches in one pass: copy, then add.
  store.zeroGrads();
  await backwardOnce(true);
  assert.equal(await gradOf('w'), once.map((v) => 2 * v));

  // Two passes without zeroGrads between them accumulate.
  store.zeroGrads();
  await backwardOnce(false);
  await backwardOnce(false);
  assert.equal(await gradOf('w'), once.map((v) => 2 * v));
});

test.run();
