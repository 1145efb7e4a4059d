// A user's own images laid out as root/<class>/*.png|jpg|jpeg (torchvision's ImageFolder layout): classes are
// the folder names in sorted order, and the train/test split is drawn per class from a seed, so the same
// folder, fraction and seed always give the same split, and every class keeps its share in both parts.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CpuRandom } from '../src/rng.ts';
import { DatasetError } from './errors.ts';
import { balancedIndices, decodeImageListCached, imageDimensions, type DecodedImages, type ImageSource, type SkippedFile } from './image.ts';

export type ImageFolderSplit = 'train' | 'test' | 'all';

export interface ImageFolderOptions {
  /** Which part to load (default train); 'all' ignores testFraction. */
  split?: ImageFolderSplit;
  /** Share of each class held out for test, in [0, 1) (default 0.2). */
  testFraction?: number;
  /** Seed of the split (default 0). */
  seed?: number;
  /** Output size: a square side or height and width. Default: the size all images share (an error if they differ). */
  imageSize?: number | { height: number; width: number };
  /** 3 (RGB, grey images repeated; the default) or 1 (luma). */
  channels?: 1 | 3;
  /** At most this many samples, taken round-robin over the classes. */
  limit?: number;
  skipBad?: boolean;
  onProgress?: (done: number, total: number) => void;
  onWarning?: (message: string) => void;
  /** Cache decoded sets in this folder (off by default: the user's folder is not written to unasked). */
  cacheDir?: string;
}

const IMAGE_EXTENSION = /\.(png|jpe?g)$/i;
const MAX_CLASSES = 256; // labels are uint8

/** Classes (sorted folder names, hidden ones ignored) and their image files, each list sorted by name. */
export function listImageFolder(root: string): { classes: string[]; files: ImageSource[] } {
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new DatasetError(`image folder not found: no directory ${root}`);
  // Code-point order rather than locale order, so the class ids do not depend on the machine's locale.
  const classes = readdirSync(root, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && !entry.name.startsWith('.'))
    .map((entry) => entry.name)
    .sort(byCodePoint);
  if (classes.length === 0) throw new DatasetError(`${root}: no class folders (expected ${join(root, '<class>', '*.png|jpg|jpeg')})`);
  if (classes.length > MAX_CLASSES) throw new DatasetError(`${root}: ${classes.length} class folders, more than the ${MAX_CLASSES} that uint8 labels hold`);
  const files: ImageSource[] = [];
  classes.forEach((name, label) => {
    const folder = join(root, name);
    const images = readdirSync(folder, { withFileTypes: true })
      .filter((entry) => !entry.isDirectory() && IMAGE_EXTENSION.test(entry.name) && !entry.name.startsWith('.'))
      .map((entry) => entry.name)
      .sort(byCodePoint);
    if (images.length === 0) throw new DatasetError(`${folder}: class folder '${name}' holds no .png, .jpg or .jpeg images`);
    for (const image of images) files.push({ file: join(folder, image), label });
  });
  return { classes, files };
}

/**
 * Splits each class on its own: a seeded shuffle of its files, the first round(n * testFraction) to test.
 * Each class draws from its own stream, derived from its name, so adding a class leaves the others' splits
 * as they were.
 */
export function splitImageFolder(files: ImageSource[], classes: string[], testFraction: number, seed: number): { train: ImageSource[]; test: ImageSource[] } {
  const train: ImageSource[] = [], test: ImageSource[] = [];
  classes.forEach((name, label) => {
    const members = files.filter((source) => source.label === label);
    const order = new CpuRandom(seed, fnv1a(name)).permutation(members.length);
    const testCount = Math.round(members.length * testFraction);
    const isTest = new Uint8Array(members.length);
    for (let k = 0; k < testCount; k++) isTest[order[k]] = 1;
    members.forEach((source, i) => (isTest[i] ? test : train).push(source));
  });
  return { train, test };
}

/** One split of an image folder as uint8 NHWC [count, height, width, channels]. */
export function loadImageFolder(root: string, options: ImageFolderOptions = {}): DecodedImages {
  const { split = 'train', testFraction = 0.2, seed = 0, channels = 3, limit } = options;
  if (split !== 'train' && split !== 'test' && split !== 'all') throw new DatasetError(`image folder: unknown split '${split}' (expected train, test or all)`);
  if (!(testFraction >= 0 && testFraction < 1)) throw new DatasetError(`image folder: testFraction must be in [0, 1), got ${testFraction}`);
  if (channels !== 1 && channels !== 3) throw new DatasetError(`image folder: channels must be 1 or 3, got ${channels}`);
  if (limit !== undefined && !(Number.isInteger(limit) && limit > 0)) throw new DatasetError(`image folder: limit must be a positive integer, got ${limit}`);
  if (!Number.isSafeInteger(seed) || seed < 0) throw new DatasetError(`image folder: seed must be a non-negative integer, got ${seed}`);

  const { classes, files } = listImageFolder(root);
  const skippedWhileProbing = new Map<string, string>();
  // Probed over every file, not just this split's, so that train and test always come out the same size.
  const { height, width } = options.imageSize === undefined
    ? commonSize(root, files, options.skipBad ? skippedWhileProbing : undefined, options.onWarning)
    : targetSize(options.imageSize);
  const parts = split === 'all' ? { train: files, test: [] } : splitImageFolder(files, classes, testFraction, seed);
  const readable = (split === 'test' ? parts.test : parts.train).filter((source) => !skippedWhileProbing.has(source.file));
  if (readable.length === 0) throw new DatasetError(`${root}: the ${split} split is empty (testFraction ${testFraction})`);
  const sources = limit === undefined ? readable : balancedIndices(readable.map((source) => source.label), limit).map((i) => readable[i]);

  // The root's hash in the name keeps two folders that share a cache directory from evicting each other.
  const cacheName = `folder-${fnv1a(root).toString(16)}-${split}-${height}x${width}x${channels}-f${testFraction}-s${seed}${limit ? `-n${limit}` : ''}.bin`;
  const cacheFile = options.cacheDir && join(options.cacheDir, cacheName);
  const decoded = decodeImageListCached(sources, {
    height, width, channels, skipBad: options.skipBad, onProgress: options.onProgress, onWarning: options.onWarning, cacheFile,
  });
  const skippedFiles: SkippedFile[] = [...[...skippedWhileProbing].map(([file, reason]) => ({ file, reason })), ...decoded.skippedFiles];
  return {
    images: decoded.images, labels: decoded.labels, count: decoded.count, height, width, channels, classes,
    files: decoded.files, skipped: skippedFiles.length, skippedFiles, fromCache: decoded.fromCache,
  };
}

function targetSize(size: number | { height: number; width: number }): { height: number; width: number } {
  const { height, width } = typeof size === 'number' ? { height: size, width: size } : size;
  if (!(Number.isInteger(height) && height > 0 && Number.isInteger(width) && width > 0)) {
    throw new DatasetError(`image folder: imageSize must be positive integers, got ${JSON.stringify(size)}`);
  }
  return { height, width };
}

/** The size every image has, read from the file headers; an error naming two files that differ. */
function commonSize(root: string, files: ImageSource[], skipped: Map<string, string> | undefined, onWarning?: (message: string) => void): { height: number; width: number } {
  let first: { file: string; height: number; width: number } | undefined;
  for (const { file } of files) {
    let size: { width: number; height: number };
    try {
      size = imageDimensions(readFileSync(file), file);
    } catch (e) {
      if (!skipped) throw e instanceof DatasetError ? e : new DatasetError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      skipped.set(file, (e as Error).message);
      onWarning?.(`skipped ${(e as Error).message}`);
      continue;
    }
    if (!first) first = { file, ...size };
    else if (size.width !== first.width || size.height !== first.height) {
      throw new DatasetError(`${root}: images differ in size (${first.file} is ${first.width}x${first.height}, ${file} is ${size.width}x${size.height}); pass imageSize`);
    }
  }
  if (!first) throw new DatasetError(`${root}: no readable images`);
  return { height: first.height, width: first.width };
}

const byCodePoint = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** 32-bit FNV-1a of a string's UTF-16 units: a stable stream number per class name. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return hash;
}
