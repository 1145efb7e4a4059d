// Per-channel normalisation statistics of a training split, on the 0..1 scale the augment kernel normalises
// with. A pass over CIFAR-10 or Pets at 224 touches 150-550 MB, so results are kept in a small JSON file keyed
// by a dataset identity string chosen by the caller (e.g. "cifar10-train" or "pets-trainval-224").
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../src/util/atomic.ts';
import type { LabelledImages } from './images.ts';

export interface ChannelStats {
  /** Per channel, 0..1 scale. */
  mean: number[];
  /** Population standard deviation per channel (divides by N, as the published CIFAR/ImageNet constants do). */
  std: number[];
}

export interface StatsCache {
  /** The JSON file; written atomically, keeping the other keys in it. */
  file: string;
  /** Identifies the data the statistics belong to. */
  key: string;
  /** Told when the file cannot be written (the statistics are still returned). */
  onWarning?: (message: string) => void;
}

interface CachedEntry extends ChannelStats {
  count: number;
  height: number;
  width: number;
  channels: number;
}

/**
 * Mean and std of every channel over all pixels of all images. The sums are exact: a 256-bin histogram per
 * channel, then integer sums (below 2^53 for any data set under ~10^11 pixel values) and the variance
 * numerator N*S2 - S1^2 in BigInt, so the only rounding is the final division and square root.
 */
export function channelStats(data: LabelledImages, cache?: StatsCache): ChannelStats {
  const { count, height, width, channels } = data;
  if (cache) {
    const entry = readCache(cache.file)[cache.key];
    // The shape check catches a key reused for different data (another limit or image size).
    if (entry && entry.count === count && entry.height === height && entry.width === width && entry.channels === channels
      && entry.mean?.length === channels && entry.std?.length === channels) {
      return { mean: entry.mean, std: entry.std };
    }
  }
  const values = count * height * width * channels;
  if (values === 0) throw new Error('channelStats: no pixels (empty image set)');
  const histogram = new Float64Array(256 * channels);
  const { images } = data;
  for (let i = 0; i < values; i += channels) {
    for (let c = 0; c < channels; c++) histogram[c * 256 + images[i + c]]++;
  }
  const n = values / channels;
  const mean: number[] = [], std: number[] = [];
  for (let c = 0; c < channels; c++) {
    let s1 = 0, s2 = 0;
    for (let v = 0; v < 256; v++) {
      const k = histogram[c * 256 + v];
      s1 += k * v;
      s2 += k * v * v;
    }
    const numerator = BigInt(n) * BigInt(s2) - BigInt(s1) * BigInt(s1); // n^2 * variance, on the 0..255 scale
    mean.push(s1 / n / 255);
    std.push(Math.sqrt(Number(numerator)) / n / 255);
  }
  if (cache) {
    const entries = readCache(cache.file);
    entries[cache.key] = { count, height, width, channels, mean, std };
    try {
      writeCache(cache.file, entries);
    } catch (e) {
      cache.onWarning?.(`${cache.file}: cannot write the statistics cache (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  }
  return { mean, std };
}

/** The cached entries; an unreadable or malformed file counts as empty (it is only a cache). */
function readCache(file: string): Record<string, CachedEntry> {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8'));
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? parsed : {};
  } catch {
    return {};
  }
}

function writeCache(file: string, entries: Record<string, CachedEntry>): void {
  writeFileAtomic(file, `${JSON.stringify(entries, null, 2)}\n`);
}
