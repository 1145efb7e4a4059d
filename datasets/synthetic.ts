// A seeded, class-separable image set for quick runs and tests: each class is a fixed random template, each
// sample its class template plus noise, so a network can learn it in a few steps and nothing is downloaded.
import { CpuRandom } from '../src/rng.ts';
import type { LabelledImages } from './images.ts';

export interface SyntheticOptions {
  count: number;
  classes?: number;
  height?: number;
  width?: number;
  channels?: number;
  /** Noise amplitude on the 0..255 scale. */
  noise?: number;
  seed?: number;
}

export function syntheticImages(options: SyntheticOptions): LabelledImages {
  const { count, classes = 10, height = 16, width = 16, channels = 3, noise = 40, seed = 0 } = options;
  const pixels = height * width * channels;
  const templates = new CpuRandom(seed, 1);
  const template = Array.from({ length: classes }, () => Float64Array.from({ length: pixels }, () => 40 + 175 * templates.next()));
  const draw = new CpuRandom(seed, 2);
  const images = new Uint8Array(count * pixels);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const label = i % classes;
    labels[i] = label;
    for (let p = 0; p < pixels; p++) images[i * pixels + p] = Math.max(0, Math.min(255, Math.round(template[label][p] + noise * (2 * draw.next() - 1))));
  }
  return { images, labels, count, height, width, channels, classes: Array.from({ length: classes }, (_, k) => `class ${k}`) };
}
