// Study conditions (issue 12): seeded, documented perturbations of a training set, under which selectors are
// compared. Each perturbation is the textbook one, so a reader can match a result to the literature:
//   clean           the data as loaded;
//   noise:P         symmetric label noise: exactly round(P*N) samples, chosen uniformly, get a label drawn
//                   uniformly from the OTHER C-1 classes (so every flagged label is wrong, none by luck);
//   duplicates:F    web-like redundancy: exactly round(F*N) samples are replaced by lightly perturbed copies of
//                   a few hundred source images (200, or S with duplicates:F:S) that stay in the set;
//   imbalance:R     long tail as in CIFAR-10-LT (Cao et al. 2019, LDAM): class c keeps n_max * R^(-c/(C-1))
//                   samples, so the rarest class has 1/R of the most frequent; a subset;
//   corrupt:F       exactly round(F*N) inputs destroyed, labels kept: half by uniform noise, half by a large
//                   occluding block;
//   transfer        not a perturbation of the learner's data: the reference model is trained on other classes
//                   (see `transferSplit`); `applyCondition` returns the data unchanged.
// Every draw comes from CpuRandom under the caller's seed, on a stream of its own per condition and purpose, so
// the same seed gives the same result and one condition's draws never shift another's. The input is never
// written; the result may share buffers the condition does not change (clean, transfer, and the pixels under
// label noise), so treat both as read-only.
import { CpuRandom, philox, splitWords } from '../src/rng.ts';
import type { LabelledImages } from './images.ts';

export class ConditionError extends Error {
  override name = 'ConditionError';
}

export type Condition =
  | { kind: 'clean' }
  | { kind: 'noise'; fraction: number }
  /** `sources` is the number of distinct images the copies come from (200 unless set; fewer when N is small). */
  | { kind: 'duplicates'; fraction: number; sources?: number }
  | { kind: 'imbalance'; ratio: number }
  | { kind: 'corrupt'; fraction: number }
  | { kind: 'transfer' };

export type ConditionKind = Condition['kind'];

/** Per-sample marks (1 = perturbed, 0 = untouched), aligned with the returned images, for kept-set diagnostics. */
export interface ConditionFlags {
  noisy?: Uint8Array;
  duplicate?: Uint8Array;
  corrupt?: Uint8Array;
}

export interface ConditionResult {
  images: LabelledImages;
  flags: ConditionFlags;
  /** One line: the condition, what was done and how many samples it touched. */
  description: string;
  /** duplicates: the input index each copy was made from, -1 for samples that are not copies. */
  duplicateSource?: Int32Array;
  /** corrupt: how each sample was destroyed: 0 untouched, CORRUPT_NOISE or CORRUPT_BLOCK. */
  corruption?: Uint8Array;
  /** imbalance: the input index of each kept sample (ascending: the kept samples stay in their input order). */
  indices?: Uint32Array;
}

export const CORRUPT_NOISE = 1;
export const CORRUPT_BLOCK = 2;

/** Distinct images the duplicates are copied from, unless the condition says otherwise: "a few hundred". */
export const DEFAULT_DUPLICATE_SOURCES = 200;
/** Largest shift of a copy, in pixels along each axis (a copy is never an exact replica: (0, 0) is excluded). */
export const DUPLICATE_MAX_SHIFT = 2;
/** Largest brightness offset of a copy, on the 0..255 scale (about 5%: "lightly augmented"). */
export const DUPLICATE_MAX_BRIGHTNESS = 12;
/** Side of the occluding block as a fraction of each image side: 3/4 x 3/4 covers 56% of the image. */
export const OCCLUSION_SIDE = 0.75;

const ACCEPTED = 'accepted: clean, noise:P (0 <= P <= 1), duplicates:F[:S] (0 <= F < 1, S sources, default 200), imbalance:R (R >= 1), corrupt:F (0 <= F <= 1), transfer';

// 0xc0d1 * 2^32 + purpose: far from the trainer's streams (epoch order 0x5a1e0000 + e, augmentation = step,
// selection 0x5e1 * 2^32 + step), so a condition never replays a draw the training also makes.
const STREAM_TAG = 0xc0d1 * 2 ** 32;
const STREAM = {
  noiseChoice: STREAM_TAG + 0x10, noiseLabel: STREAM_TAG + 0x11,
  duplicateChoice: STREAM_TAG + 0x20, duplicateShift: STREAM_TAG + 0x21,
  imbalanceChoice: STREAM_TAG + 0x30,
  corruptChoice: STREAM_TAG + 0x40, corruptBlock: STREAM_TAG + 0x41, corruptPixels: STREAM_TAG + 0x42,
  transferSplit: STREAM_TAG + 0x50,
};

// Plain decimals only: "0x10", "", "1e" and "Infinity" are typos, not numbers a user meant.
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/** Parses `clean`, `noise:P`, `duplicates:F`, `imbalance:R`, `corrupt:F` or `transfer`; one-line errors. */
export function parseCondition(text: string): Condition {
  const trimmed = text.trim();
  const colon = trimmed.indexOf(':');
  const name = (colon < 0 ? trimmed : trimmed.slice(0, colon)).toLowerCase();
  let argument = colon < 0 ? undefined : trimmed.slice(colon + 1).trim();
  const fail = (problem: string): never => {
    throw new ConditionError(`condition "${text}": ${problem}; ${ACCEPTED}`);
  };
  const number = (what: string): number => {
    if (argument === undefined || argument === '') return fail(`${name} needs a value (${name}:${what})`);
    if (!NUMBER.test(argument)) return fail(`${what} must be a number, got "${argument}"`);
    return Number(argument);
  };
  const fraction = (what: string, closedAtOne: boolean): number => {
    const value = number(what);
    if (!(value >= 0 && (closedAtOne ? value <= 1 : value < 1))) fail(`${what} must be in [0, 1${closedAtOne ? ']' : ')'}, got ${argument}`);
    return value;
  };
  switch (name) {
    case 'clean':
    case 'transfer':
      if (argument !== undefined) fail(`${name} takes no value`);
      return { kind: name };
    case 'noise':
      return { kind: 'noise', fraction: fraction('the noise fraction P', true) };
    case 'duplicates': {
      // duplicates:F or duplicates:F:S. F = 1 itself is refused: the copies need sources that stay in the set.
      const [share, sources, ...rest] = (argument ?? '').split(':');
      if (rest.length) fail('duplicates takes at most two values (duplicates:F:S)');
      argument = share;
      const value = fraction('the duplicated fraction F', false);
      if (sources === undefined) return { kind: 'duplicates', fraction: value };
      argument = sources;
      const count = number('the number of sources S');
      if (!(Number.isInteger(count) && count >= 1)) fail(`the number of sources S must be a positive integer, got ${sources}`);
      return { kind: 'duplicates', fraction: value, sources: count };
    }
    case 'imbalance': {
      const ratio = number('the imbalance ratio R');
      if (!(ratio >= 1)) fail(`the imbalance ratio R (most frequent / rarest class) must be >= 1, got ${argument}`);
      return { kind: 'imbalance', ratio };
    }
    case 'corrupt':
      return { kind: 'corrupt', fraction: fraction('the corrupted fraction F', true) };
    default:
      return fail(name === '' ? 'empty' : `unknown condition "${name}"`);
  }
}

/** The canonical text of a condition (what `parseCondition` reads back): for labels, file names and hashes. */
export function formatCondition(condition: Condition): string {
  switch (condition.kind) {
    case 'clean':
    case 'transfer':
      return condition.kind;
    case 'noise':
    case 'corrupt':
      return `${condition.kind}:${condition.fraction}`;
    case 'duplicates':
      return condition.sources === undefined || condition.sources === DEFAULT_DUPLICATE_SOURCES
        ? `duplicates:${condition.fraction}`
        : `duplicates:${condition.fraction}:${condition.sources}`;
    case 'imbalance':
      return `imbalance:${condition.ratio}`;
  }
}

/** Applies a condition (object or text) under `seed`; the input is never modified. */
export function applyCondition(data: LabelledImages, condition: Condition | string, seed: number): ConditionResult {
  const parsed = typeof condition === 'string' ? parseCondition(condition) : condition;
  const label = formatCondition(parsed);
  if (!Number.isSafeInteger(seed) || seed < 0) throw new ConditionError(`condition ${label}: the seed must be a non-negative integer, got ${seed}`);
  const classes = checkData(data, label);
  switch (parsed.kind) {
    case 'clean':
      return { images: plain(data), flags: {}, description: `clean: the ${data.count} samples as loaded` };
    case 'transfer':
      return {
        images: plain(data),
        flags: {},
        description: `transfer: the learner's ${data.count} samples as loaded; the reference model is trained on other classes (transferSplit)`,
      };
    case 'noise':
      return labelNoise(data, parsed.fraction, classes, seed, label);
    case 'duplicates':
      return duplicates(data, parsed.fraction, parsed.sources ?? DEFAULT_DUPLICATE_SOURCES, seed, label);
    case 'imbalance':
      return imbalance(data, parsed.ratio, classes, seed, label);
    case 'corrupt':
      return corrupt(data, parsed.fraction, seed, label);
  }
}

function checkData(data: LabelledImages, label: string): number {
  const fail = (problem: string): never => {
    throw new ConditionError(`condition ${label}: ${problem}`);
  };
  const { count, height, width, channels } = data;
  if (!Number.isInteger(count) || count < 0) fail(`the set's count must be a non-negative integer, got ${count}`);
  if (data.images.length !== count * height * width * channels) {
    fail(`${data.images.length} pixel bytes do not make ${count} images of ${height}x${width}x${channels}`);
  }
  if (data.labels.length !== count) fail(`${data.labels.length} labels for ${count} images`);
  const classes = data.classes.length;
  for (let i = 0; i < count; i++) if (data.labels[i] >= classes) fail(`label ${data.labels[i]} at index ${i} is out of range for ${classes} classes`);
  return classes;
}

/** The LabelledImages fields only: loader extras such as `files` are per input sample and would not follow a subset. */
function plain(data: LabelledImages, changes: Partial<LabelledImages> = {}): LabelledImages {
  const { images, labels, count, height, width, channels } = data;
  return { images, labels, count, height, width, channels, classes: [...data.classes], ...changes };
}

function exactCount(fraction: number, count: number): number {
  return Math.round(fraction * count);
}

const percent = (part: number, whole: number) => (whole === 0 ? '0%' : `${((100 * part) / whole).toFixed(1)}%`);

function labelNoise(data: LabelledImages, fraction: number, classes: number, seed: number, label: string): ConditionResult {
  const noisyCount = exactCount(fraction, data.count);
  if (noisyCount > 0 && classes < 2) throw new ConditionError(`condition ${label}: label noise needs at least 2 classes, the set has ${classes}`);
  const chosen = new CpuRandom(seed, STREAM.noiseChoice).permutation(data.count).subarray(0, noisyCount);
  const draw = new CpuRandom(seed, STREAM.noiseLabel);
  const labels = data.labels.slice();
  const noisy = new Uint8Array(data.count);
  for (const i of chosen) {
    // Uniform over the other C-1 classes: draw from C-1 slots and skip the true one.
    const slot = Math.floor(draw.next() * (classes - 1));
    labels[i] = slot >= data.labels[i] ? slot + 1 : slot;
    noisy[i] = 1;
  }
  return {
    images: plain(data, { labels }),
    flags: { noisy },
    description: `${label}: symmetric label noise, ${noisyCount} of ${data.count} labels (${percent(noisyCount, data.count)}) replaced by a uniformly drawn other class (seed ${seed})`,
  };
}

function duplicates(data: LabelledImages, fraction: number, sourceLimit: number, seed: number, label: string): ConditionResult {
  const { count, height, width, channels } = data;
  if (!Number.isInteger(sourceLimit) || sourceLimit < 1) throw new ConditionError(`condition ${label}: the number of sources must be a positive integer, got ${sourceLimit}`);
  const copies = exactCount(fraction, count);
  const sourceCount = Math.min(sourceLimit, count - copies);
  if (copies > 0 && sourceCount < 1) throw new ConditionError(`condition ${label}: ${copies} copies of ${count} samples leave no source image to copy`);
  // One permutation gives disjoint sources (kept as they are) and targets (overwritten by copies).
  const order = new CpuRandom(seed, STREAM.duplicateChoice).permutation(count);
  const sources = order.subarray(0, sourceCount);
  const targets = order.subarray(sourceCount, sourceCount + copies);
  const pixels = height * width * channels;
  const images = data.images.slice();
  const labels = data.labels.slice();
  const duplicate = new Uint8Array(count);
  const duplicateSource = new Int32Array(count).fill(-1);
  const draw = new CpuRandom(seed, STREAM.duplicateShift);
  const shifts = 2 * DUPLICATE_MAX_SHIFT + 1;
  for (let k = 0; k < copies; k++) {
    // Round-robin over shuffled sources: every source gets floor or ceil of copies/sources copies, so the
    // redundancy is spread over all of them rather than piled on a few by chance.
    const source = sources[k % sourceCount], target = targets[k];
    // A shift in [-2, 2]^2 without (0, 0): 24 choices, so no copy is a bare replica.
    let shiftIndex = Math.floor(draw.next() * (shifts * shifts - 1));
    if (shiftIndex >= (shifts * shifts - 1) / 2) shiftIndex++;
    const dy = Math.floor(shiftIndex / shifts) - DUPLICATE_MAX_SHIFT, dx = (shiftIndex % shifts) - DUPLICATE_MAX_SHIFT;
    const brightness = Math.floor(draw.next() * (2 * DUPLICATE_MAX_BRIGHTNESS + 1)) - DUPLICATE_MAX_BRIGHTNESS;
    const from = source * pixels, to = target * pixels;
    for (let y = 0; y < height; y++) {
      // Edges replicated, as a camera that moved slightly would still see something there.
      const sy = Math.min(height - 1, Math.max(0, y - dy));
      for (let x = 0; x < width; x++) {
        const sx = Math.min(width - 1, Math.max(0, x - dx));
        for (let c = 0; c < channels; c++) {
          const value = data.images[from + (sy * width + sx) * channels + c] + brightness;
          images[to + (y * width + x) * channels + c] = value < 0 ? 0 : value > 255 ? 255 : value;
        }
      }
    }
    labels[target] = data.labels[source];
    duplicate[target] = 1;
    duplicateSource[target] = source;
  }
  return {
    images: plain(data, { images, labels }),
    flags: { duplicate },
    duplicateSource,
    description: `${label}: ${copies} of ${count} samples (${percent(copies, count)}) replaced by copies of ${copies > 0 ? sourceCount : 0} source images, each shifted up to ${DUPLICATE_MAX_SHIFT} px per axis, never 0,0, with brightness +-${DUPLICATE_MAX_BRIGHTNESS}/255 (seed ${seed})`,
  };
}

/** Samples each class keeps under `imbalance:ratio` (class c: n_max * ratio^(-c/(C-1)), rounded, at least 1). */
export function imbalanceTargets(available: ArrayLike<number>, ratio: number): number[] {
  const classes = available.length;
  const factor = (c: number) => (classes > 1 ? ratio ** (-c / (classes - 1)) : 1);
  // The largest head that every class can fill: classes with no samples at all stay empty and do not limit it.
  let head = Infinity;
  for (let c = 0; c < classes; c++) if (available[c] > 0) head = Math.min(head, Math.floor(available[c] / factor(c) + 1e-9));
  if (head === Infinity) return Array.from({ length: classes }, () => 0);
  // round(head * f) <= ceil(head * f) <= available: the floor above makes head * f <= available.
  return Array.from({ length: classes }, (_, c) => (available[c] > 0 ? Math.min(available[c], Math.max(1, Math.round(head * factor(c)))) : 0));
}

function imbalance(data: LabelledImages, ratio: number, classes: number, seed: number, label: string): ConditionResult {
  const members: number[][] = Array.from({ length: classes }, () => []);
  for (let i = 0; i < data.count; i++) members[data.labels[i]].push(i);
  const targets = imbalanceTargets(members.map((m) => m.length), ratio);
  const draw = new CpuRandom(seed, STREAM.imbalanceChoice);
  const kept: number[] = [];
  for (let c = 0; c < classes; c++) {
    // A random subset of each class, not its first samples: files are often ordered by source or date.
    const order = draw.permutation(members[c].length);
    for (let k = 0; k < targets[c]; k++) kept.push(members[c][order[k]]);
  }
  const indices = Uint32Array.from(kept).sort();
  const pixels = data.height * data.width * data.channels;
  const images = new Uint8Array(indices.length * pixels);
  const labels = new Uint8Array(indices.length);
  indices.forEach((i, k) => {
    images.set(data.images.subarray(i * pixels, (i + 1) * pixels), k * pixels);
    labels[k] = data.labels[i];
  });
  const present = targets.filter((t) => t > 0);
  return {
    images: plain(data, { images, labels, count: indices.length }),
    flags: {},
    indices,
    description: `${label}: long tail, class c keeps n_max*${ratio}^(-c/(C-1)): ${present.length ? `${Math.max(...present)} down to ${Math.min(...present)}` : 'none'} per class, ${indices.length} of ${data.count} samples kept (seed ${seed})`,
  };
}

function corrupt(data: LabelledImages, fraction: number, seed: number, label: string): ConditionResult {
  const { count, height, width, channels } = data;
  const corruptCount = exactCount(fraction, count);
  const chosen = new CpuRandom(seed, STREAM.corruptChoice).permutation(count).subarray(0, corruptCount);
  // The first ceil(k/2) of a random order get noise, the rest a block: which one a sample gets is random too.
  const noiseCount = corruptCount - Math.floor(corruptCount / 2);
  const pixels = height * width * channels;
  const images = data.images.slice();
  const corruptFlags = new Uint8Array(count);
  const corruption = new Uint8Array(count);
  const noise = randomBytes(seed, STREAM.corruptPixels, noiseCount * pixels);
  const block = new CpuRandom(seed, STREAM.corruptBlock);
  const blockH = Math.max(1, Math.round(OCCLUSION_SIDE * height)), blockW = Math.max(1, Math.round(OCCLUSION_SIDE * width));
  chosen.forEach((i, k) => {
    corruptFlags[i] = 1;
    if (k < noiseCount) {
      // Every byte uniform on 0..255: nothing of the image survives.
      images.set(noise.subarray(k * pixels, (k + 1) * pixels), i * pixels);
      corruption[i] = CORRUPT_NOISE;
      return;
    }
    // A uniform grey square at a random place inside the image, the same level on every channel.
    const top = Math.floor(block.next() * (height - blockH + 1)), left = Math.floor(block.next() * (width - blockW + 1));
    const level = Math.floor(block.next() * 256);
    for (let y = top; y < top + blockH; y++) images.fill(level, i * pixels + (y * width + left) * channels, i * pixels + (y * width + left + blockW) * channels);
    corruption[i] = CORRUPT_BLOCK;
  });
  return {
    images: plain(data, { images }),
    flags: { corrupt: corruptFlags },
    corruption,
    description: `${label}: ${corruptCount} of ${count} inputs (${percent(corruptCount, count)}) destroyed, ${noiseCount} by uniform noise and ${corruptCount - noiseCount} by a ${blockH}x${blockW} grey block; labels kept (seed ${seed})`,
  };
}

// Sixteen bytes per Philox call rather than one CpuRandom.next() per byte: destroying a few thousand CIFAR
// images takes millions of bytes.
function randomBytes(seed: number, stream: number, n: number): Uint8Array {
  const [s0, s1] = splitWords(seed);
  const [t0, t1] = splitWords(stream);
  const out = new Uint8Array(n);
  for (let block = 0; block * 16 < n; block++) {
    const words = philox(block >>> 0, t0, t1, Math.floor(block / 2 ** 32), s0, s1);
    for (let b = 0; b < 16 && block * 16 + b < n; b++) out[block * 16 + b] = (words[b >> 2] >>> ((b & 3) * 8)) & 0xff;
  }
  return out;
}

/**
 * The classes of the `transfer` condition: the reference model learns `reference`, the learner `learner`, two
 * disjoint halves of 0..classes-1 (the learner gets the extra class when the count is odd). Without a seed the
 * split is by index (first half to the reference; for Fashion-MNIST, T-shirt to coat against sandal to ankle
 * boot), with one it is a seeded random split. Both lists are ascending.
 */
export function transferSplit(classes: number, seed?: number): { reference: number[]; learner: number[] } {
  if (!Number.isInteger(classes) || classes < 2) throw new ConditionError(`transfer: needs at least 2 classes to split, got ${classes}`);
  const order = seed === undefined ? Uint32Array.from({ length: classes }, (_, c) => c) : new CpuRandom(seed, STREAM.transferSplit).permutation(classes);
  const half = Math.floor(classes / 2);
  return {
    reference: Array.from(order.subarray(0, half)).sort((a, b) => a - b),
    learner: Array.from(order.subarray(half)).sort((a, b) => a - b),
  };
}

/**
 * The samples of `keep` classes, in input order, with their input `indices`. With `relabel` the labels become
 * positions in `keep` (0..keep.length-1) and `classes` the kept names in that order, so a model can be built
 * with keep.length outputs; without it labels and class names are unchanged.
 */
export function selectClasses(data: LabelledImages, keep: number[], options: { relabel?: boolean } = {}): { images: LabelledImages; indices: Uint32Array } {
  const classes = data.classes.length;
  const position = new Int32Array(classes).fill(-1);
  keep.forEach((c, k) => {
    if (!Number.isInteger(c) || c < 0 || c >= classes) throw new ConditionError(`selectClasses: class ${c} is out of range for ${classes} classes`);
    if (position[c] >= 0) throw new ConditionError(`selectClasses: class ${c} is listed twice`);
    position[c] = k;
  });
  const kept: number[] = [];
  for (let i = 0; i < data.count; i++) if (position[data.labels[i]] >= 0) kept.push(i);
  const indices = Uint32Array.from(kept);
  const pixels = data.height * data.width * data.channels;
  const images = new Uint8Array(indices.length * pixels);
  const labels = new Uint8Array(indices.length);
  indices.forEach((i, k) => {
    images.set(data.images.subarray(i * pixels, (i + 1) * pixels), k * pixels);
    labels[k] = options.relabel ? position[data.labels[i]] : data.labels[i];
  });
  const names = options.relabel ? keep.map((c) => data.classes[c]) : [...data.classes];
  return { images: { ...plain(data, { images, labels, count: indices.length }), classes: names }, indices };
}
