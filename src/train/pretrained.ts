// torchvision's ImageNet ResNet-18 weights (e.g. timm's resnet18.tv_in1k, converted to safetensors) for a model
// that may differ from the original: the classifier is replaced for the task's class count, a 1-channel stem
// takes the sum of the RGB filters (the response to a grey image stays the same), and a CIFAR stem (3x3) keeps
// its fresh initialisation. Anything else that does not fit is an error that lists every mismatch.
import type { ParameterStore } from '../nn/parameters.ts';
import type { ResNetConfig } from '../nn/resnet.ts';
import { readSafetensors } from './safetensors.ts';
import { applyModelTensors } from './checkpoint.ts';

export function sumInputChannels(shape: number[], data: Float32Array): { shape: number[]; data: Float32Array } {
  const [o, i, kh, kw] = shape;
  const out = new Float32Array(o * kh * kw);
  for (let a = 0; a < o; a++) for (let c = 0; c < i; c++) for (let k = 0; k < kh * kw; k++) out[a * kh * kw + k] += data[(a * i + c) * kh * kw + k];
  return { shape: [o, 1, kh, kw], data: out };
}

/** Loads the weights; returns the names left at their initial values (with the reason), for the run's log. */
export function loadPretrained(path: string, store: ParameterStore, config: ResNetConfig): string[] {
  const file = readSafetensors(path);
  const replaced = applyModelTensors(store, file.tensors, {
    strict: true,
    source: path,
    adapt: (name, shape, data) => (name === 'conv1.weight' && shape.length === 4 && shape[1] === 3 && config.inChannels === 1 ? sumInputChannels(shape, data) : null),
    replace: (name) => name.startsWith('fc.') || (name === 'conv1.weight' && config.stem === 'cifar'),
  });
  return replaced.map((name) => `${name}: shape differs from the file, kept the fresh initialisation`);
}
