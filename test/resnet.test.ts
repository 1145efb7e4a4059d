// The whole network: the GPU ResNet-18's loss and every parameter gradient against the float64 reference network
// built from the reference kernels (src/reference/resnet.ts), and its torchvision structure.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { getRuntime } from '../src/gpu/runtime.ts';
import { Tensor } from '../src/tensor.ts';
import { Tape, Var } from '../src/autograd.ts';
import { createResNet18, ResNet18, type Stem } from '../src/nn/resnet.ts';
import { crossEntropy } from '../src/nn/functional.ts';
import { uniformArray } from '../src/rng.ts';
import { referenceResnetForwardBackward, referenceResnetSpec } from '../src/reference/resnet.ts';

const rt = await getRuntime();

test('the model declares exactly torchvision resnet18 state_dict names and (OHWI) shapes', () => {
  const ours = new ResNet18({ stem: 'imagenet', width: 1, inChannels: 3, classes: 1000 }).specs();
  const reference = referenceResnetSpec({ stem: 'imagenet', width: 1, inChannels: 3, classes: 1000 });
  assert.equal(ours.map((s) => `${s.name} [${s.shape}]`), reference.map((s) => `${s.name} [${s.shape}]`));
  const params = ours.filter((s) => s.kind === 'parameter').reduce((n, s) => n + s.shape.reduce((p, d) => p * d, 1), 0);
  assert.is(params, 11_689_512);
});

/**
 * Tolerance per tensor: max |g_gpu - g_ref| <= tau * max |g_ref|. f32 rounding (2^-24) compounds through some 40
 * layers whose dot products each add up to K * eps of their magnitude, and training-mode batch-norm over few
 * values per channel (3 at the deepest stages here) divides by small standard deviations. The observed worst is
 * 5e-5 (CIFAR stem, 8x8) and 6e-5 (ImageNet stem, 16x16), so tau = 5e-4 is a 10x margin, while a wrong rule (a
 * missing term, a transposed weight, a dropped residual) is off by order 1e-1.
 */
const TAU = 5e-4;

for (const [stem, size] of [['cifar', 8], ['imagenet', 16]] as [Stem, number][]) {
  test(`every parameter gradient matches the float64 network (${stem} stem, width 1/16, ${size}x${size}, batch 3)`, async () => {
    const config = { stem, width: 1 / 16, inChannels: 3, classes: 10 };
    const { model, store } = createResNet18(rt, config, 5);
    const N = 3;
    const x = uniformArray(N * size * size * 3, 1, 1, -1, 1);
    const labels = [1, 4, 7];
    const params = new Map<string, Float32Array>();
    for (const [name, { data }] of await store.download()) params.set(name, data);
    const ref = referenceResnetForwardBackward(params, x, [N, size, size, 3], labels, { ...config, training: true });

    const input = Tensor.upload(rt, x, [N, size, size, 3]);
    const labelTensor = Tensor.upload(rt, labels, [N], 'u32');
    store.zeroGrads();
    const tape = new Tape();
    const logits = model.forward({ tape, store, training: true }, new Var(input, false));
    const ce = crossEntropy(tape, logits, labelTensor);
    tape.keep(ce.loss);
    tape.backward(ce.loss, Tensor.upload(rt, [1], [1]));
    const loss = (await ce.loss.value.download())[0];
    const grads = await store.grads.download();
    for (const t of [ce.loss.value, ce.perSample, ce.predicted, ce.correct, input, labelTensor]) t.dispose();

    assert.ok(Math.abs(loss - ref.loss) <= 1e-5 * Math.abs(ref.loss), `loss ${loss} vs ${ref.loss}`);
    assert.is(ref.grads.size, store.specs.filter((s) => s.kind === 'parameter').length);
    const failures: string[] = [];
    for (const [name, g] of ref.grads) {
      const slot = store.slot(name)!;
      let maxRef = 0, maxErr = 0;
      for (let i = 0; i < g.length; i++) {
        maxRef = Math.max(maxRef, Math.abs(g[i]));
        maxErr = Math.max(maxErr, Math.abs(grads[slot.offset + i] - g[i]));
      }
      if (!(maxErr <= TAU * maxRef)) failures.push(`${name}: max error ${maxErr.toExponential(2)} against ${(TAU * maxRef).toExponential(2)}`);
    }
    store.dispose();
    assert.equal(failures, []);
  });
}

test.run();
