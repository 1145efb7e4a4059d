// The data-set registry: the sets the trainer knows by name, where each lives (`--data-dir`, SALN_DATA,
// datasets/data, or a system copy), its splits, its normalisation constants (computed from the training split and
// cached) and its default augmentation. Flags are parsed in src/cli/; this takes their values.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadFashionMnist } from './fashion-mnist.ts';
import { loadMnist } from './mnist.ts';
import { loadCifar10, loadCifar100 } from './cifar.ts';
import { loadOxfordPets } from './oxford-pets.ts';
import { loadImageFolder } from './image-folder.ts';
import { syntheticImages } from './synthetic.ts';
import { channelStats } from './stats.ts';
import { findDataset, locateDataset, resolveDataDir, datasetDir } from './catalog.ts';
import { subsetImages, type LabelledImages } from './images.ts';
import type { AugmentOptions } from '../src/ops/augment.ts';
import { UsageError } from '../src/util/errors.ts';

export const DATASETS = ['fashion-mnist', 'mnist', 'cifar10', 'cifar100', 'oxford-pets', 'folder', 'synthetic'] as const;

export interface LoadedTrainData {
  name: string;
  train: LabelledImages;
  test: LabelledImages;
  augment: Omit<AugmentOptions, 'mean' | 'std'>;
  mean: number[];
  std: number[];
  /** Images skipped as unreadable (--skip-bad), both splits. */
  skipped: number;
}

export interface DataOptions {
  /** The dataset's own directory, or the data directory holding it (`--data-dir`). */
  dir?: string;
  limit?: number;
  testLimit?: number;
  /** Augmentations by name (none when empty); the data set's default when absent. */
  augment?: readonly AugmentName[];
  /** Side of the square images decoded from JPEG/PNG sets (default 224 for oxford-pets, 64 for folders). */
  imageSize?: number;
  skipBad?: boolean;
  onWarning?: (message: string) => void;
  onProgress?: (done: number, total: number) => void;
}

export const AUGMENTATIONS = ['flip', 'crop', 'rotate', 'jitter'] as const;
export type AugmentName = typeof AUGMENTATIONS[number];

/** The augmentation options of named augmentations for images of a given size. */
export function augmentOptions(names: readonly AugmentName[], size: number): Omit<AugmentOptions, 'mean' | 'std'> {
  const augment: Omit<AugmentOptions, 'mean' | 'std'> = {};
  for (const name of names) {
    if (name === 'flip') augment.flip = 0.5;
    else if (name === 'crop') augment.crop = { padding: Math.max(1, Math.round(size / 8)), size };
    else if (name === 'rotate') augment.rotateDegrees = 10;
    else if (name === 'jitter') { augment.brightness = 0.2; augment.contrast = 0.2; }
    else throw new UsageError(`unknown augmentation '${name}'; available: ${AUGMENTATIONS.join(', ')}`);
  }
  return augment;
}

/** Where a catalogued dataset is: the flag (its own folder or a data directory), else the default places. */
function locate(name: string, flag: string | undefined): string {
  const entry = findDataset(name)!;
  if (flag) {
    const asDataDir = datasetDir(entry, flag);
    return locateDataset(entry, flag) ? asDataDir : flag;
  }
  const dataDir = resolveDataDir();
  return locateDataset(entry, dataDir)?.dir ?? datasetDir(entry, dataDir);
}

function splits(name: string, options: DataOptions): { train: LabelledImages; test: LabelledImages; skipped: number; defaultAugment: readonly AugmentName[]; statsDir: string } {
  const { limit, testLimit } = options;
  switch (name) {
    case 'fashion-mnist': {
      const dir = options.dir ? locate(name, options.dir) : undefined;
      return { train: loadFashionMnist(dir, 'train', { limit }), test: loadFashionMnist(dir, 'test', { limit: testLimit }), skipped: 0, defaultAugment: [], statsDir: resolveDataDir() };
    }
    case 'mnist': {
      const dir = locate(name, options.dir);
      return { train: loadMnist(dir, 'train', { limit }), test: loadMnist(dir, 'test', { limit: testLimit }), skipped: 0, defaultAugment: [], statsDir: dir };
    }
    case 'cifar10': case 'cifar100': {
      const dir = locate(name, options.dir);
      // Sets of any size in the release's layout train too (subsets, test fixtures): records must be whole, but
      // their count is not held to the release's 10,000 per file.
      const [train, test] = name === 'cifar10'
        ? [loadCifar10(dir, 'train', { limit, recordsPerBatch: null }), loadCifar10(dir, 'test', { limit: testLimit, recordsPerBatch: null })]
        : [loadCifar100(dir, 'train', { limit, records: null }), loadCifar100(dir, 'test', { limit: testLimit, records: null })];
      return { train, test, skipped: 0, defaultAugment: ['flip', 'crop'], statsDir: dir };
    }
    case 'oxford-pets': {
      const dir = locate(name, options.dir);
      const common = { imageSize: options.imageSize ?? 224, skipBad: options.skipBad, onWarning: options.onWarning, onProgress: options.onProgress };
      const train = loadOxfordPets(dir, 'trainval', { ...common, limit });
      const test = loadOxfordPets(dir, 'test', { ...common, limit: testLimit });
      return { train, test, skipped: train.skipped + test.skipped, defaultAugment: ['flip', 'rotate', 'jitter'], statsDir: dir };
    }
    case 'folder': {
      if (!options.dir) throw new UsageError("--dataset folder needs --data-dir ROOT (ROOT/<class>/*.png|jpg)");
      const common = { imageSize: options.imageSize ?? 64, skipBad: options.skipBad, onWarning: options.onWarning, onProgress: options.onProgress, seed: 0 };
      const train = loadImageFolder(options.dir, { ...common, split: 'train', limit });
      const test = loadImageFolder(options.dir, { ...common, split: 'test', limit: testLimit });
      return { train, test, skipped: train.skipped + test.skipped, defaultAugment: ['flip'], statsDir: options.dir };
    }
    case 'synthetic': {
      const trainCount = limit ?? 512, testCount = testLimit ?? 256;
      const all = syntheticImages({ count: trainCount + testCount, seed: 7 });
      return { train: subsetImages(all, 0, trainCount), test: subsetImages(all, trainCount, testCount), skipped: 0, defaultAugment: [], statsDir: '' };
    }
    default:
      throw new UsageError(`unknown dataset '${name}'; available: ${DATASETS.join(', ')}`);
  }
}

export function loadTrainData(name: string, options: DataOptions = {}): LoadedTrainData {
  const { train, test, skipped, defaultAugment, statsDir } = splits(name, options);
  // Synthetic data is centred by construction; real sets get their training split's statistics (cached).
  if (statsDir) {
    try { mkdirSync(statsDir, { recursive: true }); } catch { /* a read-only place: the statistics are recomputed each run */ }
  }
  const stats = name === 'synthetic'
    ? { mean: new Array(train.channels).fill(0.5), std: new Array(train.channels).fill(0.25) }
    : channelStats(train, { file: join(statsDir, '.saln-stats.json'), key: `${name}:${train.count}x${train.height}x${train.width}x${train.channels}`, onWarning: options.onWarning });
  return { name, train, test, skipped, augment: augmentOptions(options.augment ?? defaultAugment, train.height), mean: stats.mean, std: stats.std };
}
