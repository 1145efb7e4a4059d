// Loader throughput against the training step it feeds: decoding (JPEG), batch gathering + upload + GPU
// augmentation, in images/s, for Fashion-MNIST and a decoded-JPEG set.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from '../src/cli/args.ts';
import { getRuntime, type Runtime } from '../src/gpu/runtime.ts';
import { loadFashionMnist } from '../datasets/fashion-mnist.ts';
import { loadOxfordPets } from '../datasets/oxford-pets.ts';
import { augmentBatch, uploadImages, type AugmentOptions } from '../src/ops/augment.ts';
import { gatherImages, type LabelledImages } from '../datasets/idx.ts';
import { CpuRandom } from '../src/rng.ts';
import { writeTinyPets } from '../datasets/fixtures.ts';

/** Gather + upload + augment of shuffled batches, as the trainer does, in images/s. */
async function batchRate(rt: Runtime, data: LabelledImages, batch: number, batches: number, augment: Omit<AugmentOptions, 'mean' | 'std'>): Promise<number> {
  const order = new CpuRandom(1).permutation(data.count);
  const options = { ...augment, mean: new Array(data.channels).fill(0.5), std: new Array(data.channels).fill(0.25) };
  const start = performance.now();
  for (let b = 0; b < batches; b++) {
    const { bytes } = gatherImages(data, Array.from({ length: batch }, (_, k) => order[(b * batch + k) % data.count]));
    const shape = { n: batch, h: data.height, w: data.width, c: data.channels };
    const images = uploadImages(rt, bytes, shape);
    augmentBatch(rt, images, shape, options, 1, b).dispose();
    images.dispose();
  }
  await rt.sync();
  return (batch * batches) / ((performance.now() - start) / 1000);
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parse('bench data', argv, { json: { type: 'boolean' }, batch: { type: 'string', default: '64' }, jpegs: { type: 'string', default: '60' } });
  if (values.help) { process.stdout.write('usage: saln bench data [--json] [--batch 64] [--jpegs 60]\n'); return 0; }
  const batch = Number(values.batch);
  const rt = await getRuntime({ adapter: values.adapter });
  const rows: Record<string, unknown>[] = [];
  const report = (row: Record<string, unknown>) => {
    rows.push(row);
    if (values.json) process.stdout.write(`${JSON.stringify({ bench: 'data', ...row })}\n`);
    else process.stdout.write(`${String(row.what).padEnd(58)} ${Number(row.imagesPerSecond).toFixed(0).padStart(9)} images/s\n`);
  };
  let t = performance.now();
  const fm = loadFashionMnist(undefined, 'train');
  report({ what: 'Fashion-MNIST: read + parse 60,000 IDX images', imagesPerSecond: fm.count / ((performance.now() - t) / 1000) });
  report({ what: `Fashion-MNIST: gather + upload + flip/crop on GPU, batch ${batch}`, imagesPerSecond: await batchRate(rt, fm, batch, 20, { flip: 0.5, crop: { padding: 2, size: 28 } }) });

  // A Pet-shaped JPEG set (the real one cannot be downloaded here): decode + resize, then the cached path.
  const dir = mkdtempSync(join(tmpdir(), 'saln-bench-data-'));
  try {
    const perClass = Math.max(1, Math.round(Number(values.jpegs) / 3));
    const pets = writeTinyPets(dir, perClass, 1);
    t = performance.now();
    const decoded = loadOxfordPets(pets, 'trainval', { imageSize: 224 });
    report({ what: `JPEG set: decode + resize + center-crop to 224 (first load)`, imagesPerSecond: decoded.count / ((performance.now() - t) / 1000) });
    t = performance.now();
    const cached = loadOxfordPets(pets, 'trainval', { imageSize: 224 });
    report({ what: `JPEG set: load the decoded cache (later runs)`, imagesPerSecond: cached.count / ((performance.now() - t) / 1000) });
    report({ what: `JPEG set 224x224: gather + upload + flip/rotate/jitter, batch ${batch}`, imagesPerSecond: await batchRate(rt, cached, batch, 4, { flip: 0.5, rotateDegrees: 10, brightness: 0.2, contrast: 0.2 }) });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  if (!values.json) process.stdout.write('compare with `npm run bench -- step` (images/s of a training step): the loader must be faster.\n');
  return 0;
}
