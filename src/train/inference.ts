// A trained model put to use: the network, its weights and the preprocessing it was trained with, read from the
// run (trainer.safetensors' saved config and run info) rather than retyped, and class probabilities for batches
// of uint8 images. `saln eval` and `saln predict` share it. A bare model.safetensors in torchvision's layout (one
// PyTorch saved) has no run beside it: its architecture is read from the tensors' shapes and its preprocessing is
// torchvision's ImageNet one unless the caller says otherwise.
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Runtime } from '../gpu/runtime.ts';
import { Tape, Var } from '../autograd.ts';
import { createResNet18, type ResNetConfig, type ResNetInstance } from '../nn/resnet.ts';
import { augmentBatch, uploadImages } from '../ops/augment.ts';
import { applyModelTensors, MODEL_FILE, recoverCheckpoint, TRAINER_FILE } from './checkpoint.ts';
import { checkConfig, CheckpointError, parseTrainerMetadata } from './checkpoint-state.ts';
import { readSafetensors, type LoadedTensor } from './safetensors.ts';
import { FASHION_MNIST_CLASSES } from '../../datasets/fashion-mnist.ts';

/** torchvision's ImageNet normalisation: what a model PyTorch trained on ImageNet expects. */
const IMAGENET_MEAN = [0.485, 0.456, 0.406];
const IMAGENET_STD = [0.229, 0.224, 0.225];

/** Side of the images each named data set trains on, for runs saved before the image size was recorded. */
const DATASET_IMAGE_SIZE: Record<string, number> = { 'fashion-mnist': 28, mnist: 28, cifar10: 32, cifar100: 32, synthetic: 16, 'oxford-pets': 224, folder: 64 };
/** Class names of the fixed sets, for runs saved before the names were recorded. */
const DATASET_CLASS_NAMES: Record<string, readonly string[]> = {
  'fashion-mnist': FASHION_MNIST_CLASSES,
  mnist: Array.from({ length: 10 }, (_, k) => String(k)),
  cifar10: ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'],
};

export class ModelError extends Error {
  override name = 'ModelError';
}

/** Everything needed to feed images to the model as training fed them. */
export interface Preprocessing {
  model: ResNetConfig;
  /** Height and width the images are brought to on the CPU (decode, grey/RGB, resize-to-cover, centre crop). */
  imageSize: [number, number];
  /** The GPU resize of the training pipeline (config.augment.resize), when the run used one. */
  resize?: readonly [number, number];
  mean: number[];
  std: number[];
  classNames: string[];
  /** The data set the run trained on, its --limit and its seed (what `saln eval` reloads). */
  dataset?: string;
  limit?: number;
  seed: number;
  /** Where the settings came from: 'run' (the checkpoint's metadata) or 'defaults' (a bare weights file). */
  origin: 'run' | 'defaults';
}

export interface ModelOverrides {
  /** The class count the caller expects (required for a bare weights file; checked against the weights). */
  classes?: number;
  classNames?: string[];
  imageSize?: number;
  mean?: number[];
  std?: number[];
}

export interface LoadedModel {
  /** The model.safetensors read. */
  file: string;
  preprocessing: Preprocessing;
  tensors: Map<string, LoadedTensor>;
}

/** Reads the weights and the preprocessing of `path` (a run directory or a .safetensors file); no GPU work. */
export function readModel(path: string, overrides: ModelOverrides = {}): LoadedModel {
  if (!existsSync(path)) throw new ModelError(`--model ${path} does not exist; pass the --out directory of 'saln train' or a model.safetensors file`);
  const isDir = statSync(path).isDirectory();
  const dir = isDir ? path : dirname(path);
  const file = isDir ? join(path, MODEL_FILE) : path;
  if (!existsSync(file)) throw new ModelError(`--model ${path} holds no ${MODEL_FILE}; pass the --out directory of 'saln train' or a model.safetensors file`);
  // A run killed between its checkpoint's commit and the final rename is completed first, as --resume does.
  if (isDir || file.endsWith(MODEL_FILE)) recoverCheckpoint(dir);
  const tensors = readSafetensors(file).tensors;
  const architecture = architectureOf(tensors, file);
  const trainerFile = join(dir, TRAINER_FILE);
  const preprocessing = existsSync(trainerFile) && (isDir || file === join(dir, MODEL_FILE))
    ? fromRun(trainerFile, architecture, overrides)
    : fromDefaults(architecture, overrides, file);
  if (overrides.classes !== undefined && overrides.classes !== architecture.classes) {
    throw new ModelError(`${file} has ${architecture.classes} output classes (fc.weight [${tensors.get('fc.weight')!.shape}]), but --classes says ${overrides.classes}; pass --classes ${architecture.classes} or the matching model`);
  }
  if (preprocessing.classNames.length !== architecture.classes) {
    throw new ModelError(`${preprocessing.classNames.length} class names for a model of ${architecture.classes} classes; give ${architecture.classes} names with --class-names`);
  }
  return { file, preprocessing, tensors };
}

/** ResNet-18's shape-determining choices, read from conv1 and fc as torchvision names them. */
export function architectureOf(tensors: Map<string, LoadedTensor>, file: string): ResNetConfig {
  const conv1 = tensors.get('conv1.weight'), fc = tensors.get('fc.weight');
  if (!conv1 || !fc) throw new ModelError(`${file} is not a ResNet-18 in torchvision's layout (no ${conv1 ? 'fc.weight' : 'conv1.weight'})`);
  if (conv1.shape.length !== 4 || fc.shape.length !== 2) throw new ModelError(`${file}: conv1.weight [${conv1.shape}] or fc.weight [${fc.shape}] does not have ResNet-18's rank`);
  const [out, inChannels, kh] = conv1.shape;
  const stem = kh === 7 ? 'imagenet' : kh === 3 ? 'cifar' : null;
  if (!stem) throw new ModelError(`${file}: conv1.weight is ${kh}x${kh}; ResNet-18 has a 7x7 (imagenet) or 3x3 (cifar) stem`);
  return { stem, width: out / 64, inChannels, classes: fc.shape[0] };
}

function fromRun(trainerFile: string, architecture: ResNetConfig, overrides: ModelOverrides): Preprocessing {
  const state = parseTrainerMetadata(readSafetensors(trainerFile).metadata, trainerFile);
  const extra = state.extra;
  if (extra.config === undefined) throw new CheckpointError(`${trainerFile}: carries no run settings (saved by an older saln); pass the model.safetensors file itself with --classes N`);
  const config = checkConfig(extra.config, (problem) => { throw new CheckpointError(`${trainerFile}: ${problem}`); });
  const saved = config.model;
  if (saved.stem !== architecture.stem || saved.width !== architecture.width || saved.inChannels !== architecture.inChannels || saved.classes !== architecture.classes) {
    throw new ModelError(`${trainerFile} describes a ${describe(saved)} model but the weights are a ${describe(architecture)} one; the files come from two runs`);
  }
  const dataset = typeof extra.dataset === 'string' ? extra.dataset : undefined;
  const limit = Number.isSafeInteger(extra.limit) ? extra.limit as number : undefined;
  const savedSize = extra.imageSize;
  const imageSize: [number, number] | undefined = Array.isArray(savedSize) && savedSize.length === 2 && savedSize.every((s) => Number.isSafeInteger(s) && s > 0)
    ? [savedSize[0], savedSize[1]]
    : dataset && DATASET_IMAGE_SIZE[dataset] ? [DATASET_IMAGE_SIZE[dataset], DATASET_IMAGE_SIZE[dataset]] : undefined;
  if (!imageSize && overrides.imageSize === undefined) throw new CheckpointError(`${trainerFile}: the run records no image size; pass --image-size N`);
  const savedNames = Array.isArray(extra.classNames) && extra.classNames.every((n) => typeof n === 'string') ? extra.classNames as string[] : undefined;
  const known = dataset ? DATASET_CLASS_NAMES[dataset] : undefined;
  const classNames = overrides.classNames ?? savedNames ?? (known && known.length === saved.classes ? [...known] : numbered(saved.classes));
  return {
    model: saved,
    imageSize: overrides.imageSize ? [overrides.imageSize, overrides.imageSize] : imageSize!,
    resize: config.augment?.resize,
    mean: overrides.mean ?? config.mean,
    std: overrides.std ?? config.std,
    classNames, dataset, limit, seed: config.seed, origin: 'run',
  };
}

function fromDefaults(architecture: ResNetConfig, overrides: ModelOverrides, file: string): Preprocessing {
  if (overrides.classes === undefined) throw new ModelError(`${file} has no trainer.safetensors beside it to say how it was trained; pass --classes N (and --class-names, --image-size, --mean, --std if not ImageNet's)`);
  const c = architecture.inChannels;
  // A 1-channel model gets the grey equivalent of ImageNet's statistics (the mean over the three channels).
  const average = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  const mean = overrides.mean ?? (c === 3 ? IMAGENET_MEAN : new Array(c).fill(average(IMAGENET_MEAN)));
  const std = overrides.std ?? (c === 3 ? IMAGENET_STD : new Array(c).fill(average(IMAGENET_STD)));
  for (const [flag, values] of [['mean', mean], ['std', std]] as const) {
    if (values.length !== c) throw new ModelError(`--${flag} has ${values.length} values for a model of ${c} input channels`);
  }
  const size = overrides.imageSize ?? (architecture.stem === 'imagenet' ? 224 : 32);
  return { model: architecture, imageSize: [size, size], mean, std, classNames: overrides.classNames ?? numbered(architecture.classes), seed: 0, origin: 'defaults' };
}

const numbered = (classes: number) => Array.from({ length: classes }, (_, k) => `class ${k}`);
const describe = (m: ResNetConfig) => `${m.stem}-stem, width ${m.width}, ${m.inChannels}-channel, ${m.classes}-class`;

/** The network on the GPU with the weights loaded (strict: every tensor present and shaped as expected). */
export function buildModel(rt: Runtime, loaded: LoadedModel): ResNetInstance {
  const net = createResNet18(rt, loaded.preprocessing.model, 0);
  try {
    applyModelTensors(net.store, loaded.tensors, { strict: true, source: loaded.file });
  } catch (e) {
    net.store.dispose();
    throw new ModelError((e as Error).message);
  }
  return net;
}

/**
 * Softmax probabilities [count, classes] for `count` uint8 NHWC images already at the model's image size and
 * channel count, in batches of `batchSize`; batch-norm in evaluation mode, normalised exactly as evaluation
 * during training does (the GPU resize, then mean and std).
 */
export async function classify(rt: Runtime, net: ResNetInstance, pre: Preprocessing, images: Uint8Array, count: number, batchSize = 256): Promise<Float32Array> {
  const [h, w] = pre.imageSize, c = pre.model.inChannels, classes = pre.model.classes;
  const pixels = h * w * c;
  if (images.length !== count * pixels) throw new Error(`classify: ${count} images of ${h}x${w}x${c} hold ${count * pixels} bytes, got ${images.length}`);
  const probabilities = new Float32Array(count * classes);
  for (let start = 0; start < count; start += batchSize) {
    const n = Math.min(batchSize, count - start);
    const shape = { n, h, w, c };
    // The batch's input and activations are freed when its scope ends.
    const values = await rt.scope(async () => {
      const x = rt.scope(() => augmentBatch(rt, uploadImages(rt, images.subarray(start * pixels, (start + n) * pixels), shape), shape, { resize: pre.resize, mean: pre.mean, std: pre.std }, pre.seed, 0));
      const tape = new Tape(false);
      const logits = net.model.forward({ tape, store: net.store, training: false }, new Var(x, false));
      const downloaded = await logits.value.download() as Float32Array;
      tape.release();
      return downloaded;
    });
    for (let k = 0; k < n; k++) softmaxInto(values.subarray(k * classes, (k + 1) * classes), probabilities.subarray((start + k) * classes, (start + k + 1) * classes));
  }
  return probabilities;
}

/** Softmax with the maximum subtracted first, so that large logits do not overflow exp. */
function softmaxInto(logits: Float32Array, out: Float32Array): void {
  let max = -Infinity;
  for (const v of logits) if (v > max) max = v;
  let total = 0;
  for (let i = 0; i < logits.length; i++) { out[i] = Math.exp(logits[i] - max); total += out[i]; }
  for (let i = 0; i < logits.length; i++) out[i] /= total;
}

/** The k most probable classes of one row of probabilities, most probable first (ties: the lower class). */
export function topK(probabilities: Float32Array, k: number): { index: number; probability: number }[] {
  return [...probabilities.keys()].sort((a, b) => probabilities[b] - probabilities[a] || a - b).slice(0, k).map((index) => ({ index, probability: probabilities[index] }));
}

