// Loader throughput against the training step it feeds: decoding (JPEG), batch gathering + upload + GPU
// augmentation, in images/s, for Fashion-MNIST and a decoded-JPEG set.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Runtime } from '../src/gpu/runtime.ts';
import { loadFashionMnist } from '../datasets/fashion-mnist.ts';
import { loadOxfordPets } from '../datasets/oxford-pets.ts';
import { augmentBatch, uploadImages, type AugmentOptions } from '../src/ops/augment.ts';
import { gatherImages, type LabelledImages } from '../datasets/images.ts';
import { CpuRandom } from '../src/rng.ts';
import { writeTinyPets } from '../datasets/fixtures.ts';
import type { SuiteContext } from './context.ts';
import { measure, type Stats } from './measure.ts';
import { positiveInt } from './options.ts';

/** Gather + upload + augment of `batches` shuffled batches, as the trainer does (one timed call). */
async function batches(rt: Runtime, data: LabelledImages, batch: number, count: number, augment: Omit<AugmentOptions, 'mean' | 'std'>): Promise<void> {
  const order = new CpuRandom(1).permutation(data.count);
  const options = { ...augment, mean: new Array(data.channels).fill(0.5), std: new Array(data.channels).fill(0.25) };
  for (let b = 0; b < count; b++) {
    const { bytes } = gatherImages(data, Array.from({ length: batch }, (_, k) => order[(b * batch + k) % data.count]));
    const shape = { n: batch, h: data.height, w: data.width, c: data.channels };
    const images = uploadImages(rt, bytes, shape);
    augmentBatch(rt, images, shape, options, 1, b).dispose();
    images.dispose();
  }
  await rt.sync('bench data');
}

export async function run(ctx: SuiteContext): Promise<void> {
  const { rt, report, values, runs } = ctx;
  const batch = positiveInt('batch', values.batch, 64);
  const jpegs = positiveInt('jpegs', values.jpegs, 60);
  const figure = (what: string, seconds: Stats, images: number) =>
    report.figure({ suite: 'data', case: what, engine: 'saln', seconds, work: images, unit: 'images/s' });

  let fm = loadFashionMnist(undefined, 'train');
  figure('Fashion-MNIST: read + parse 60,000 IDX images', await measure(runs, () => { fm = loadFashionMnist(undefined, 'train'); }), fm.count);
  const fmBatches = 20;
  figure(`Fashion-MNIST: gather + upload + flip/crop on GPU, batch ${batch}`, await measure(runs, () => batches(rt, fm, batch, fmBatches, { flip: 0.5, crop: { padding: 2, size: 28 } })), batch * fmBatches);

  // A Pet-shaped JPEG set (the real one cannot be downloaded here): decode + resize, then the cached path.
  const root = mkdtempSync(join(tmpdir(), 'saln-bench-data-'));
  try {
    const perClass = Math.max(1, Math.round(jpegs / 3));
    // Each first load needs a set without a decoded cache: a fresh copy per call, written outside the clock.
    let copy = 0;
    const fresh: string[] = [];
    for (let i = 0; i < runs + 1; i++) fresh.push(writeTinyPets(join(root, `set${i}`), perClass, 1));
    let decodedCount = 0;
    const firstLoad = await measure(runs, () => { decodedCount = loadOxfordPets(fresh[copy++], 'trainval', { imageSize: 224 }).count; });
    figure('JPEG set: decode + resize + center-crop to 224 (first load)', firstLoad, decodedCount);
    let cached = loadOxfordPets(fresh[0], 'trainval', { imageSize: 224 });
    figure('JPEG set: load the decoded cache (later runs)', await measure(runs, () => { cached = loadOxfordPets(fresh[0], 'trainval', { imageSize: 224 }); }), cached.count);
    const jpegBatches = 4;
    figure(`JPEG set 224x224: gather + upload + flip/rotate/jitter, batch ${batch}`, await measure(runs, () => batches(rt, cached, batch, jpegBatches, { flip: 0.5, rotateDegrees: 10, brightness: 0.2, contrast: 0.2 })), batch * jpegBatches);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  report.line('compare with the step suite (images/s of a training step): the loader must be faster.');
}
