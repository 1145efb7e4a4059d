// The Oxford-IIIT Pet data set (Parkhi et al. 2012): 37 cat and dog breeds, ~7400 photos of varied sizes in
// images/*.jpg, split by annotations/trainval.txt and annotations/test.txt. Photos are decoded, resized so the
// shorter side is `imageSize` and center-cropped to a square, once: the result is cached under
// <dir>/.saln-cache/, since decoding thousands of JPEGs in JavaScript takes minutes.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DatasetError } from './errors.ts';
import { balancedIndices, decodeImageListCached, readImageCache, sourceDigest, type DecodedImages, type DecodedSet, type ImageSource } from './image.ts';

export type PetsSplit = 'trainval' | 'test';

/** Class ids in the annotation lists run 1..37. */
export const PETS_CLASS_COUNT = 37;

export interface PetsOptions {
  /** Side of the square output images (default 224). */
  imageSize?: number;
  /** At most this many samples, taken round-robin over the breeds (the lists are sorted by breed). */
  limit?: number;
  /** Skip unreadable images with a warning instead of failing on the first. */
  skipBad?: boolean;
  onProgress?: (done: number, total: number) => void;
  onWarning?: (message: string) => void;
  /** Where decoded sets are cached (default <dir>/.saln-cache); false disables the cache. */
  cacheDir?: string | false;
}

export interface PetsAnnotation {
  name: string;
  classId: number;
  line: number;
}

/** Lines `Image CLASS-ID SPECIES BREED-ID`; `#` starts a comment line; `file` names the source in errors. */
export function parsePetsAnnotations(text: string, file: string): PetsAnnotation[] {
  const entries: PetsAnnotation[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const fields = line.split(/\s+/);
    const classId = Number(fields[1]);
    if (fields.length < 2 || !Number.isInteger(classId)) {
      throw new DatasetError(`${file}:${i + 1}: expected 'Image CLASS-ID SPECIES BREED-ID', got '${line}'`);
    }
    if (classId < 1 || classId > PETS_CLASS_COUNT) {
      throw new DatasetError(`${file}:${i + 1}: class id ${classId} is out of range 1..${PETS_CLASS_COUNT}`);
    }
    entries.push({ name: fields[0], classId, line: i + 1 });
  });
  return entries;
}

/** A breed is its image names without the trailing _NUMBER: Abyssinian_100 -> Abyssinian. */
export function petsBreed(imageName: string): string {
  return imageName.replace(/_\d+$/, '');
}

/** Images as uint8 NHWC [count, imageSize, imageSize, 3]; `dir` holds images/ and annotations/ (or oxford-iiit-pet/ does). */
export function loadOxfordPets(dir: string, split: PetsSplit = 'trainval', options: PetsOptions = {}): DecodedImages {
  if (split !== 'trainval' && split !== 'test') throw new DatasetError(`Oxford-IIIT Pet: unknown split '${split}' (expected trainval or test)`);
  const { imageSize = 224, limit } = options;
  if (!(Number.isInteger(imageSize) && imageSize > 0)) throw new DatasetError(`Oxford-IIIT Pet: imageSize must be a positive integer, got ${imageSize}`);
  if (limit !== undefined && !(Number.isInteger(limit) && limit > 0)) throw new DatasetError(`Oxford-IIIT Pet: limit must be a positive integer, got ${limit}`);
  const root = resolvePetsRoot(dir, split);
  const listFile = join(root, 'annotations', `${split}.txt`);
  const entries = parsePetsAnnotations(readFileSync(listFile, 'utf8'), listFile);
  if (entries.length === 0) throw new DatasetError(`${listFile}: lists no images`);
  const classes = petsClassNames(root, split, entries, listFile);

  const all: ImageSource[] = entries.map((entry) => ({ file: join(root, 'images', `${entry.name}.jpg`), label: entry.classId - 1 }));
  const cacheDir = options.cacheDir === false ? undefined : options.cacheDir ?? join(root, '.saln-cache');
  const fullCache = cacheDir && join(cacheDir, `pets-${split}-${imageSize}.bin`);
  const geometry = { height: imageSize, width: imageSize, channels: 3 as const };
  const decodeOptions = { ...geometry, skipBad: options.skipBad, onProgress: options.onProgress, onWarning: options.onWarning };

  let decoded;
  if (limit === undefined || limit >= all.length) {
    decoded = decodeImageListCached(all, { ...decodeOptions, cacheFile: fullCache });
  } else {
    // A full cache from an earlier unlimited run serves limited runs too; otherwise only the chosen subset is
    // decoded (and cached under its own name, so repeated quick runs start at once as well).
    const chosen = balancedIndices(all.map((source) => source.label), limit);
    const subset = chosen.map((i) => all[i]);
    const full = fullCache ? validCache(all, fullCache, decodeOptions) : undefined;
    decoded = full
      ? pickFromFull(full, subset, options.onWarning)
      : decodeImageListCached(subset, { ...decodeOptions, cacheFile: cacheDir && join(cacheDir, `pets-${split}-${imageSize}-n${limit}.bin`) });
  }
  const { images, labels, files, count, height, width, channels, skippedFiles, fromCache } = decoded;
  return { images, labels, count, height, width, channels, classes, files, skipped: skippedFiles.length, skippedFiles, fromCache };
}

/** The folder holding annotations/<split>.txt: `dir` or `dir/oxford-iiit-pet` (torchvision's layout). */
function resolvePetsRoot(dir: string, split: PetsSplit): string {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new DatasetError(`Oxford-IIIT Pet not found: no directory ${dir}; run 'saln data download oxford-pets'`);
  }
  for (const root of [dir, join(dir, 'oxford-iiit-pet')]) {
    if (existsSync(join(root, 'annotations', `${split}.txt`))) {
      if (!existsSync(join(root, 'images'))) {
        throw new DatasetError(`Oxford-IIIT Pet: ${join(root, 'images')} is missing (the annotations are there); run 'saln data download oxford-pets'`);
      }
      return root;
    }
  }
  throw new DatasetError(`Oxford-IIIT Pet not found: looked for ${join(dir, 'annotations', `${split}.txt`)} and ${join(dir, 'oxford-iiit-pet', 'annotations', `${split}.txt`)}; run 'saln data download oxford-pets'`);
}

/**
 * Names ordered by class id, from the image names of both lists (so that a split that lacks a breed still
 * names it). The class count is the largest id seen: 37 on the real data, fewer in small fixtures.
 */
function petsClassNames(root: string, split: PetsSplit, entries: PetsAnnotation[], listFile: string): string[] {
  const otherFile = join(root, 'annotations', `${split === 'test' ? 'trainval' : 'test'}.txt`);
  const lists: [PetsAnnotation[], string][] = [[entries, listFile]];
  if (existsSync(otherFile)) lists.push([parsePetsAnnotations(readFileSync(otherFile, 'utf8'), otherFile), otherFile]);
  const names: string[] = [];
  for (const [list, file] of lists) {
    for (const { name, classId, line } of list) {
      const breed = petsBreed(name);
      const known = names[classId - 1];
      if (known === undefined) names[classId - 1] = breed;
      else if (known !== breed) throw new DatasetError(`${file}:${line}: image ${name} has class id ${classId}, which other images give to breed '${known}'`);
    }
  }
  for (let id = 1; id <= names.length; id++) {
    if (names[id - 1] === undefined) throw new DatasetError(`${listFile}: no image of class id ${id} in either list, so it has no name (ids must run 1..${names.length})`);
  }
  return names;
}

/** The full cache when it is valid for these sources; never decodes. */
function validCache(all: ImageSource[], cacheFile: string, options: { height: number; width: number; channels: 1 | 3; skipBad?: boolean }): DecodedSet | undefined {
  if (!existsSync(cacheFile)) return undefined;
  const cached = readImageCache(cacheFile, sourceDigest(all, options), options);
  return cached && (options.skipBad || cached.skippedFiles.length === 0) ? cached : undefined;
}

function pickFromFull(full: DecodedSet, subset: ImageSource[], onWarning?: (message: string) => void): DecodedSet & { fromCache: boolean } {
  const sampleBytes = full.height * full.width * full.channels;
  const position = new Map(full.files.map((file, i) => [file, i]));
  const kept = subset.filter((source) => position.has(source.file));
  const images = new Uint8Array(kept.length * sampleBytes);
  const labels = new Uint8Array(kept.length);
  kept.forEach((source, n) => {
    const i = position.get(source.file)!;
    images.set(full.images.subarray(i * sampleBytes, (i + 1) * sampleBytes), n * sampleBytes);
    labels[n] = full.labels[i];
  });
  const wanted = new Set(subset.map((source) => source.file));
  const skippedFiles = full.skippedFiles.filter((entry) => wanted.has(entry.file));
  for (const { reason } of skippedFiles) onWarning?.(`skipped ${reason}`);
  return { ...full, images, labels, files: kept.map((source) => source.file), count: kept.length, skippedFiles, fromCache: true };
}
