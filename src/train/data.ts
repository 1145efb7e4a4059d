// Datasets the trainer knows by name, with their normalisation constants and default augmentation.
import { loadFashionMnist } from '../../datasets/fashion-mnist.ts';
import { syntheticImages } from '../../datasets/synthetic.ts';
import type { LabelledImages } from '../../datasets/idx.ts';
import type { AugmentOptions } from '../ops/augment.ts';
import { UsageError } from '../cli/args.ts';

export const DATASETS = ['fashion-mnist', 'synthetic'] as const;

export interface LoadedTrainData {
  name: string;
  train: LabelledImages;
  test: LabelledImages;
  augment: Omit<AugmentOptions, 'mean' | 'std'>;
  mean: number[];
  std: number[];
}

/** `--augment flip,crop,rotate,jitter` (or none) for images of a given size. */
export function parseAugment(text: string, size: number): Omit<AugmentOptions, 'mean' | 'std'> {
  const augment: Omit<AugmentOptions, 'mean' | 'std'> = {};
  for (const item of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    if (item === 'none') continue;
    if (item === 'flip') augment.flip = 0.5;
    else if (item === 'crop') augment.crop = { padding: Math.max(1, Math.round(size / 8)), size };
    else if (item === 'rotate') augment.rotateDegrees = 10;
    else if (item === 'jitter') { augment.brightness = 0.2; augment.contrast = 0.2; }
    else throw new UsageError(`--augment: unknown '${item}'; use a comma list of flip, crop, rotate, jitter, or none`);
  }
  return augment;
}

function take(data: LabelledImages, limit?: number): LabelledImages {
  if (limit === undefined || limit >= data.count) return data;
  const pixels = data.height * data.width * data.channels;
  return { ...data, count: limit, images: data.images.subarray(0, limit * pixels), labels: data.labels.subarray(0, limit) };
}

export function loadTrainData(name: string, options: { dir?: string; limit?: number; testLimit?: number; augment?: string } = {}): LoadedTrainData {
  switch (name) {
    case 'fashion-mnist':
      return {
        name,
        train: loadFashionMnist(options.dir, 'train', { limit: options.limit }),
        test: loadFashionMnist(options.dir, 'test', { limit: options.testLimit }),
        // Fashion-MNIST's training-split pixel mean and std on the 0..1 scale.
        mean: [0.2860], std: [0.3530],
        augment: parseAugment(options.augment ?? 'none', 28),
      };
    case 'synthetic': {
      const all = syntheticImages({ count: (options.limit ?? 512) + (options.testLimit ?? 256), seed: 7 });
      const trainCount = options.limit ?? 512;
      const pixels = all.height * all.width * all.channels;
      return {
        name,
        train: take(all, trainCount),
        test: { ...all, count: all.count - trainCount, images: all.images.subarray(trainCount * pixels), labels: all.labels.subarray(trainCount) },
        mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25],
        augment: parseAugment(options.augment ?? 'none', all.height),
      };
    }
    default:
      throw new UsageError(`unknown dataset '${name}'; available: ${DATASETS.join(', ')}`);
  }
}
