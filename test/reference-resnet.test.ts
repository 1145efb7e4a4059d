// The float64 ResNet reference: torchvision's names and shapes, the whole-network backward against central
// differences of its own forward, and the batch-norm modes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  referenceResnetForward, referenceResnetForwardBackward, referenceResnetSpec, resnetWidths, specSize,
  type ReferenceResnetOptions, type ResnetParamSpec,
} from '../src/reference/resnet.ts';
import { convGeometry } from '../src/ops/conv.ts';
import { convForwardReference } from '../src/reference/conv.ts';
import { batchNormTrainReference } from '../src/reference/batchnorm.ts';
import { numericGradient } from '../src/reference/gradcheck.ts';
import { normalArray, uniformArray } from '../src/rng.ts';

/** Kaiming-normal convs, bn affine and running stats away from their defaults so that every term matters. */
function randomParams(spec: ResnetParamSpec[], seed: number): Map<string, Float64Array> {
  const params = new Map<string, Float64Array>();
  spec.forEach((entry, stream) => {
    const n = specSize(entry);
    const u = (lo: number, hi: number) => Float64Array.from(uniformArray(n, seed, stream, lo, hi));
    switch (entry.kind) {
      case 'conv': {
        const fanIn = entry.shape[1] * entry.shape[2] * entry.shape[3];
        params.set(entry.name, normalArray(n, seed, stream, 0, Math.sqrt(2 / fanIn)));
        break;
      }
      case 'bn_weight': params.set(entry.name, u(0.6, 1.4)); break;
      case 'bn_bias': params.set(entry.name, u(-0.3, 0.3)); break;
      case 'running_mean': params.set(entry.name, u(-0.5, 0.5)); break;
      case 'running_var': params.set(entry.name, u(0.5, 2)); break;
      case 'fc_weight': params.set(entry.name, u(-1, 1).map((v) => v / Math.sqrt(entry.shape[1]))); break;
      case 'fc_bias': params.set(entry.name, u(-0.2, 0.2)); break;
      case 'num_batches_tracked': break;
    }
  });
  return params;
}

const tiny = (stem: 'imagenet' | 'cifar', training: boolean, labelSmoothing = 0): ReferenceResnetOptions =>
  ({ stem, width: 1 / 16, inChannels: 3, classes: 5, training, labelSmoothing });

function problem(options: ReferenceResnetOptions, batch: number, size = 8, seed = 7) {
  const spec = referenceResnetSpec(options);
  const params = randomParams(spec, seed);
  const inputShape = [batch, size, size, options.inChannels];
  const input = Float64Array.from(uniformArray(inputShape.reduce((a, b) => a * b, 1), seed, 9999, -1, 1));
  const labels = Array.from({ length: batch }, (_, i) => (3 * i + 1) % options.classes);
  return { spec, params, inputShape, input, labels };
}

test('width 1 matches torchvision resnet18: names, order, shapes (OHWI), 11,689,512 parameters', () => {
  const spec = referenceResnetSpec({ stem: 'imagenet', width: 1, inChannels: 3, classes: 1000 });
  const trainable = spec.filter((e) => e.trainable);
  assert.is(trainable.reduce((s, e) => s + specSize(e), 0), 11_689_512);
  assert.is(trainable.length, 62);
  // state_dict: 62 parameters + 20 batch-norms x 3 buffers.
  assert.is(spec.length, 122);
  assert.equal(spec.slice(0, 7).map((e) => e.name), [
    'conv1.weight', 'bn1.weight', 'bn1.bias', 'bn1.running_mean', 'bn1.running_var', 'bn1.num_batches_tracked', 'layer1.0.conv1.weight',
  ]);
  const byName = new Map(spec.map((e) => [e.name, e]));
  const shape = (name: string) => byName.get(name)?.shape;
  assert.equal(shape('conv1.weight'), [64, 7, 7, 3]);
  assert.equal(shape('layer1.0.conv2.weight'), [64, 3, 3, 64]);
  assert.equal(shape('layer2.0.conv1.weight'), [128, 3, 3, 64]);
  assert.equal(shape('layer2.0.downsample.0.weight'), [128, 1, 1, 64]);
  assert.equal(shape('layer3.0.downsample.0.weight'), [256, 1, 1, 128]);
  assert.equal(shape('layer3.0.downsample.1.running_var'), [256]);
  assert.equal(shape('layer4.1.bn2.num_batches_tracked'), []);
  assert.equal(shape('fc.weight'), [1000, 512]);
  assert.equal(shape('fc.bias'), [1000]);
  assert.not.ok(byName.has('layer1.0.downsample.0.weight'));
  assert.equal(spec.filter((e) => e.name.includes('downsample.0.weight')).map((e) => e.name),
    ['layer2.0.downsample.0.weight', 'layer3.0.downsample.0.weight', 'layer4.0.downsample.0.weight']);
  assert.equal(spec.slice(-2).map((e) => e.name), ['fc.weight', 'fc.bias']);
  // The block's module order: conv1, bn1, conv2, bn2, downsample.
  const layer2 = spec.filter((e) => e.name.startsWith('layer2.0.') && e.kind === 'conv').map((e) => e.name);
  assert.equal(layer2, ['layer2.0.conv1.weight', 'layer2.0.conv2.weight', 'layer2.0.downsample.0.weight']);
});

test('widths and stems: base = max(1, round(64 * width)), cifar stem 3x3, one input channel', () => {
  assert.equal(resnetWidths(1 / 16), [4, 8, 16, 32]);
  assert.equal(resnetWidths(0.001), [1, 2, 4, 8]);
  assert.equal(resnetWidths(0.5), [32, 64, 128, 256]);
  const spec = referenceResnetSpec({ stem: 'cifar', width: 1 / 16, inChannels: 1, classes: 10 });
  const byName = new Map(spec.map((e) => [e.name, e.shape]));
  assert.equal(byName.get('conv1.weight'), [4, 3, 3, 1]);
  assert.equal(byName.get('layer4.0.downsample.0.weight'), [32, 1, 1, 16]);
  assert.equal(byName.get('fc.weight'), [10, 32]);
});

/**
 * Richardson extrapolation of central differences with steps h and h/2, (4 D(h/2) - D(h)) / 3, which cancels
 * the h^2 term of the truncation error. Plain central differences are not enough here: with 8x8 inputs the last
 * stages run at 1x1, where training-mode batch-norm sees only N = 2 or 3 values per channel and maps them to
 * xhat = +-d / sqrt(d^2 + eps); a channel whose two values differ by d ~ sqrt(eps) makes the loss sharply
 * curved (gradients up to ~60 in this seed, error of plain differences 1.2e-5 relative at h = 1e-6, shrinking as
 * h^2, so it is truncation, not the backward).
 */
const FD_STEP = 2e-6;
function extrapolatedGradient(f: (x: Float64Array) => number, x: Float64Array, indices: number[]): Float64Array {
  const coarse = numericGradient(f, x, FD_STEP, indices);
  const fine = numericGradient(f, x, FD_STEP / 2, indices);
  return fine.map((v, i) => (4 * v - coarse[i]) / 3);
}

/**
 * Every trainable parameter at two coordinates (its last one and its largest gradient) against differences of
 * the float64 loss. Tolerance |num - ana| <= 1e-6 |ana| + 4e-9: the relative part bounds the remaining O(h^4)
 * truncation; the absolute part is the rounding floor of the extrapolated quotient, (5/3) * delta / h with
 * delta ~ 1e-15 the rounding noise of a loss ~1.6 evaluated through ~1e5 operations, i.e. ~1e-9, and matters only
 * for coordinates whose gradient is ~1e-3 or less (the 1x1 batch-norms make many early-layer gradients tiny).
 * At this seed the worst coordinate uses 0.63 of its tolerance. Other seeds can make the 2-value batch-norms so
 * ill-conditioned that the loss itself is noisy at 1e-12 and no step size works: that is the configuration, not
 * the backward (eval mode, which has no such normalisation, passes at 0.2 of the tolerance for every seed tried).
 */
function checkGradients(options: ReferenceResnetOptions, batch: number) {
  const { spec, params, inputShape, input, labels } = problem(options, batch);
  const result = referenceResnetForwardBackward(params, input, inputShape, labels, options);
  const trainable = spec.filter((e) => e.trainable);
  assert.equal([...result.grads.keys()].sort(), trainable.map((e) => e.name).sort());
  let largest = 0;
  for (const entry of trainable) {
    const grad = result.grads.get(entry.name)!;
    assert.is(grad.length, specSize(entry), entry.name);
    let top = 0;
    for (let i = 0; i < grad.length; i++) if (Math.abs(grad[i]) > Math.abs(grad[top])) top = i;
    const indices = [...new Set([grad.length - 1, top])];
    const numeric = extrapolatedGradient((value) => {
      const trial = new Map(params);
      trial.set(entry.name, value);
      return referenceResnetForward(trial, input, inputShape, labels, options).loss;
    }, params.get(entry.name)!, indices);
    for (const i of indices) {
      const err = Math.abs(numeric[i] - grad[i]);
      assert.ok(err <= 1e-6 * Math.abs(grad[i]) + 4e-9, `${entry.name}[${i}]: numeric ${numeric[i]} vs backward ${grad[i]}`);
      largest = Math.max(largest, Math.abs(grad[i]));
    }
  }
  // Not vacuous: some checked gradients are far above the absolute floor.
  assert.ok(largest > 0.1, `largest gradient ${largest}`);
}

for (const stem of ['imagenet', 'cifar'] as const) {
  for (const training of [true, false]) {
    test(`backward equals central differences: ${stem} stem, ${training ? 'training (label smoothing 0.1)' : 'eval'} mode, width 1/16, 8x8, batch 2`, () => {
      checkGradients(tiny(stem, training, training ? 0.1 : 0), 2);
    });
  }
}

test('backward equals central differences on the whole-network check\'s configuration: imagenet stem, 8x8, batch 3, training', () => {
  checkGradients(tiny('imagenet', true), 3);
});

test('training mode: bn1 running stats follow the batch statistics of conv1 (momentum 0.1, unbiased variance)', () => {
  const options = tiny('cifar', true);
  const { params, inputShape, input, labels } = problem(options, 2);
  const { runningStats } = referenceResnetForward(params, input, inputShape, labels, options);
  const w = params.get('conv1.weight')!;
  const z = convForwardReference(input, w, null, convGeometry(inputShape, [4, 3, 3, 3], { stride: 1, padding: 1 }));
  const bn = batchNormTrainReference(z, 4, params.get('bn1.weight')!, params.get('bn1.bias')!, params.get('bn1.running_mean')!, params.get('bn1.running_var')!, 0.1, 1e-5);
  assert.equal([...runningStats.get('bn1.running_mean')!], [...bn.runningMean]);
  assert.equal([...runningStats.get('bn1.running_var')!], [...bn.runningVar]);
  // Every batch-norm reports both statistics, and they moved.
  const bnCount = referenceResnetSpec(options).filter((e) => e.kind === 'running_var').length;
  assert.is(runningStats.size, 2 * bnCount);
  const last = runningStats.get('layer4.1.bn2.running_mean')!;
  assert.ok(last.some((v, c) => v !== params.get('layer4.1.bn2.running_mean')![c]));
});

test('eval mode uses the running statistics: samples are independent of the batch, running stats unchanged', () => {
  const options = tiny('imagenet', false);
  const { params, inputShape, input, labels } = problem(options, 2);
  const both = referenceResnetForward(params, input, inputShape, labels, options);
  const perImage = input.length / 2;
  const first = referenceResnetForward(params, input.subarray(0, perImage), [1, ...inputShape.slice(1)], labels.slice(0, 1), options);
  const logitsOfFirst = [...both.logits.subarray(0, options.classes)];
  [...first.logits].forEach((v, j) => assert.ok(Math.abs(v - logitsOfFirst[j]) <= 1e-12 * (1 + Math.abs(v)), `logit ${j}`));
  for (const [name, value] of both.runningStats) assert.equal([...value], [...params.get(name)!], name);
  // Training mode on the same batch normalises with batch statistics instead, so the logits differ.
  const trained = referenceResnetForward(params, input, inputShape, labels, { ...options, training: true });
  assert.ok(trained.logits.some((v, j) => Math.abs(v - both.logits[j]) > 1e-3));
  // A running mean shifts eval-mode logits.
  const shifted = new Map(params);
  shifted.set('layer4.1.bn2.running_mean', params.get('layer4.1.bn2.running_mean')!.map((v) => v + 0.5));
  const moved = referenceResnetForward(shifted, input, inputShape, labels, options);
  assert.ok(moved.logits.some((v, j) => Math.abs(v - both.logits[j]) > 1e-3));
});

test('training mode rejects a single value per channel, as PyTorch does', () => {
  const options = tiny('imagenet', true);
  const { params, input, inputShape, labels } = problem(options, 1);
  assert.throws(() => referenceResnetForward(params, input, inputShape, labels, options), /more than 1 value per channel/);
});

test.run();
