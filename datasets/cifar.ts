// CIFAR-10 and CIFAR-100 (Krizhevsky 2009), "binary version": fixed-size records of label byte(s) then a 32x32
// image as three planes (1024 R, 1024 G, 1024 B, each row-major). The engine is NHWC, so each record is
// interleaved to [32, 32, 3] on load. Every error is one line naming the file.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DatasetError } from './errors.ts';
import type { LabelledImages } from './images.ts';

export type CifarSplit = 'train' | 'test';

const SIDE = 32;
const PLANE = SIDE * SIDE;
const IMAGE_BYTES = 3 * PLANE;

export interface Cifar10Options {
  /** Keep only the first `limit` samples (all when absent or larger). */
  limit?: number;
  /** Training batch files data_batch_1..N (5 in the release; fewer for subsets and test fixtures). */
  trainBatches?: number;
  /** Records every batch file must hold (10000 in the release); null skips the check. */
  recordsPerBatch?: number | null;
}

export interface Cifar100Options {
  limit?: number;
  /** Fine (100 classes, the default) or coarse (20 superclasses) labels. */
  labels?: 'fine' | 'coarse';
  /** Records the split file must hold (50000 train / 10000 test in the release); null skips the check. */
  records?: number | null;
}

const CIFAR10_FOLDER = 'cifar-10-batches-bin';
const CIFAR100_FOLDER = 'cifar-100-binary';

/** CIFAR-10 as uint8 NHWC [count, 32, 32, 3]; `dir` is the extracted cifar-10-batches-bin folder or its parent. */
export function loadCifar10(dir: string, split: CifarSplit = 'train', options: Cifar10Options = {}): LabelledImages {
  checkSplit('CIFAR-10', split);
  checkLimit('CIFAR-10', options.limit);
  const { trainBatches = 5, recordsPerBatch = 10000 } = options;
  const root = resolveRoot('CIFAR-10', dir, CIFAR10_FOLDER, 'batches.meta.txt', 'cifar10');
  const classes = readClassNames(requireFile('CIFAR-10', root, dir, CIFAR10_FOLDER, 'batches.meta.txt', 'cifar10'), 10);
  const names = split === 'test' ? ['test_batch.bin'] : Array.from({ length: trainBatches }, (_, b) => `data_batch_${b + 1}.bin`);
  // All files are checked to exist before reading any, so a missing batch is reported before a long read.
  const paths = names.map((name) => requireFile('CIFAR-10', root, dir, CIFAR10_FOLDER, name, 'cifar10'));
  const layout: RecordLayout = { labelBytes: 1, labelIndex: 0, classCount: 10, expected: recordsPerBatch };
  return readRecords(paths, layout, classes, options.limit);
}

/** CIFAR-100 as uint8 NHWC [count, 32, 32, 3]; `dir` is the extracted cifar-100-binary folder or its parent. */
export function loadCifar100(dir: string, split: CifarSplit = 'train', options: Cifar100Options = {}): LabelledImages {
  checkSplit('CIFAR-100', split);
  checkLimit('CIFAR-100', options.limit);
  const { labels = 'fine' } = options;
  if (labels !== 'fine' && labels !== 'coarse') throw new DatasetError(`CIFAR-100: labels must be 'fine' or 'coarse', got '${labels}'`);
  const root = resolveRoot('CIFAR-100', dir, CIFAR100_FOLDER, 'fine_label_names.txt', 'cifar100');
  const classCount = labels === 'fine' ? 100 : 20;
  const classes = readClassNames(requireFile('CIFAR-100', root, dir, CIFAR100_FOLDER, `${labels}_label_names.txt`, 'cifar100'), classCount);
  const path = requireFile('CIFAR-100', root, dir, CIFAR100_FOLDER, `${split}.bin`, 'cifar100');
  const expected = options.records === undefined ? (split === 'train' ? 50000 : 10000) : options.records;
  // Records hold the coarse label, then the fine one.
  const layout: RecordLayout = { labelBytes: 2, labelIndex: labels === 'fine' ? 1 : 0, classCount, expected };
  return readRecords([path], layout, classes, options.limit);
}

interface RecordLayout {
  labelBytes: number;
  labelIndex: number;
  classCount: number;
  expected: number | null;
}

function readRecords(paths: string[], layout: RecordLayout, classes: string[], limit?: number): LabelledImages {
  const recordBytes = layout.labelBytes + IMAGE_BYTES;
  const files = paths.map((path) => {
    const size = fileSize(path);
    // An empty file is whole records too (none), but it is a failed copy or download, never a data set.
    if (size === 0) throw new DatasetError(`${path}: empty file, expected ${recordBytes}-byte CIFAR records`);
    if (size % recordBytes !== 0) {
      throw new DatasetError(`${path}: truncated or not a CIFAR binary file: ${size} bytes is not a whole number of ${recordBytes}-byte records`);
    }
    const records = size / recordBytes;
    if (layout.expected !== null && records !== layout.expected) {
      throw new DatasetError(`${path}: holds ${records} records, expected ${layout.expected}`);
    }
    return { path, records };
  });
  const total = files.reduce((sum, file) => sum + file.records, 0);
  const count = Math.min(total, limit ?? Infinity);
  const images = new Uint8Array(count * IMAGE_BYTES);
  const labels = new Uint8Array(count);
  let n = 0;
  for (const { path, records } of files) {
    if (n === count) break;
    const bytes = readBytes(path);
    // The file may have changed since it was measured (a copy still running): never read past its end.
    if (bytes.length !== records * recordBytes) throw new DatasetError(`${path}: changed size while being read (${bytes.length} bytes, was ${records * recordBytes})`);
    for (let r = 0; r < records && n < count; r++, n++) {
      const record = r * recordBytes;
      const label = bytes[record + layout.labelIndex];
      if (label >= layout.classCount) {
        throw new DatasetError(`${path}: label ${label} in record ${r} is out of range for ${layout.classCount} classes`);
      }
      labels[n] = label;
      const pixels = record + layout.labelBytes;
      const out = n * IMAGE_BYTES;
      for (let p = 0; p < PLANE; p++) {
        images[out + 3 * p] = bytes[pixels + p];
        images[out + 3 * p + 1] = bytes[pixels + PLANE + p];
        images[out + 3 * p + 2] = bytes[pixels + 2 * PLANE + p];
      }
    }
  }
  return { images, labels, count, height: SIDE, width: SIDE, channels: 3, classes };
}

/** `dir` itself when it holds the marker file, else `dir/<folder>` when that does, else `dir` (errors name both). */
function resolveRoot(dataset: string, dir: string, folder: string, marker: string, downloadName: string): string {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new DatasetError(`${dataset} not found: no directory ${dir}; run 'saln data download ${downloadName}'`);
  }
  if (existsSync(join(dir, marker))) return dir;
  if (existsSync(join(dir, folder, marker))) return join(dir, folder);
  return dir;
}

function requireFile(dataset: string, root: string, dir: string, folder: string, name: string, downloadName: string): string {
  const path = join(root, name);
  if (existsSync(path)) return path;
  const looked = root === dir ? `${join(dir, name)} and ${join(dir, folder, name)}` : path;
  throw new DatasetError(`${dataset} not found: no ${name} (looked for ${looked}); run 'saln data download ${downloadName}'`);
}

/** One name per line; blank lines (the release ends with some) are dropped. */
function readClassNames(path: string, expected: number): string[] {
  const names = new TextDecoder().decode(readBytes(path)).split(/\r?\n/).map((line) => line.trim()).filter(Boolean);
  if (names.length !== expected) throw new DatasetError(`${path}: lists ${names.length} class names, expected ${expected}`);
  return names;
}

function fileSize(path: string): number {
  try {
    const info = statSync(path);
    if (!info.isFile()) throw new DatasetError(`${path}: not a regular file`);
    return info.size;
  } catch (e) {
    if (e instanceof DatasetError) throw e;
    throw new DatasetError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

function readBytes(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new DatasetError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

function checkSplit(dataset: string, split: string): void {
  if (split !== 'train' && split !== 'test') throw new DatasetError(`${dataset}: unknown split '${split}' (expected train or test)`);
}

function checkLimit(dataset: string, limit: number | undefined): void {
  if (limit !== undefined && !(Number.isInteger(limit) && limit > 0)) {
    throw new DatasetError(`${dataset}: limit must be a positive integer, got ${limit}`);
  }
}
