// Reference features computed once: the cache round-trips, a corrupt one is a one-line error, a changed
// checkpoint or data set rebuilds it, and the rows a selector receives are those of its candidates (a wrong
// mapping would look exactly like a selector that keeps the wrong images). Also the trainer's other selection
// inputs: remembered losses, the scoring forward's frozen running statistics, the warm-up and ramp of the keep
// ratio.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getRuntime } from '../src/gpu/runtime.ts';
import { Trainer, trainConfig, type TrainConfig } from '../src/train/trainer.ts';
import { loadTrainData } from '../datasets/registry.ts';
import { computeReferenceFeatures, decodeFeatureCache, encodeFeatureCache, referenceFeatures } from '../src/train/reference-features.ts';
import { createResNet18 } from '../src/nn/resnet.ts';
import { saveCheckpoint } from '../src/train/checkpoint.ts';
import { Tape, Var } from '../src/autograd.ts';
import { Tensor } from '../src/tensor.ts';
import { subsetImages } from '../datasets/images.ts';

const rt = await getRuntime();
const data = loadTrainData('synthetic', { limit: 96, testLimit: 32 });
const model = { stem: 'cifar' as const, width: 1 / 16, inChannels: 3, classes: 10 };
const preprocess = { mean: data.mean, std: data.std };
const dirs: string[] = [];
const tempDir = () => { const d = mkdtempSync(join(tmpdir(), 'saln-reffeat-')); dirs.push(d); return d; };

/** A reference checkpoint directory from a freshly initialised model with the given seed. */
async function referenceCheckpoint(seed: number): Promise<string> {
  const dir = tempDir();
  const net = createResNet18(rt, model, seed);
  await saveCheckpoint(dir, net.store, new Map(), { step: 0, epoch: 0, batchInEpoch: 0, extra: {} });
  net.store.dispose();
  return dir;
}

test('the cache file round-trips and rejects what does not parse, naming the file', () => {
  const features = Float32Array.from({ length: 6 }, (_, i) => i / 3), losses = Float32Array.from([0.5, 1.5, 2.5]);
  const bytes = encodeFeatureCache({ referenceDigest: 'r', dataDigest: 'd', count: 3, dim: 2 }, features, losses);
  const back = decodeFeatureCache(bytes, 'f.bin');
  assert.equal(Array.from(back.features), Array.from(features));
  assert.equal(Array.from(back.losses), Array.from(losses));
  assert.is(back.header.dataDigest, 'd');
  for (const [broken, why] of [
    [bytes.subarray(0, bytes.length - 4), /corrupt reference-feature cache .*expected/],
    [Uint8Array.from([1, 2, 3]), /bad magic/],
    [(() => { const b = bytes.slice(); b[14] ^= 0xff; return b; })(), /corrupt/],
  ] as [Uint8Array, RegExp][]) {
    assert.throws(() => decodeFeatureCache(broken, 'f.bin'), (e: Error) => why.test(e.message) && e.message.startsWith('f.bin: ') && !e.message.includes('\n'));
  }
});

test('computed once, read back after; rebuilt when the checkpoint or the data change', async () => {
  const reference = await referenceCheckpoint(5);
  const net = createResNet18(rt, model, 5);
  const first = await referenceFeatures(rt, net, reference, data.train, preprocess);
  assert.is(first.cached, false);
  assert.is(first.count, 96);
  assert.is(first.dim, 32, 'ResNet-18 at width 1/16: 512 / 16 features');
  const again = await referenceFeatures(rt, net, reference, data.train, preprocess);
  assert.is(again.cached, true);
  assert.equal(Array.from(again.features), Array.from(first.features));
  // Other labels are other data: a label-noise condition must not reuse a clean cache.
  const relabelled = { ...data.train, labels: Uint8Array.from(data.train.labels, (l) => (l + 1) % 10) };
  const other = await referenceFeatures(rt, net, reference, relabelled, preprocess, first.file);
  assert.is(other.cached, false, 'same file, other data: rebuilt');
  const otherReference = await referenceCheckpoint(6);
  const otherNet = createResNet18(rt, model, 6);
  const rebuilt = await referenceFeatures(rt, otherNet, otherReference, relabelled, preprocess, first.file);
  assert.is(rebuilt.cached, false, 'same file, other checkpoint: rebuilt');
  assert.ok(rebuilt.features.some((v, i) => v !== other.features[i]));
  writeFileSync(first.file, readFileSync(first.file).subarray(0, 100));
  try {
    await referenceFeatures(rt, otherNet, otherReference, relabelled, preprocess, first.file);
    assert.unreachable('a truncated cache is an error');
  } catch (e) {
    assert.match((e as Error).message, /corrupt reference-feature cache.*delete it to rebuild/);
  }
  net.store.dispose(); otherNet.store.dispose();
});

function selectionConfig(selection: TrainConfig['selection'], overrides: Partial<TrainConfig> = {}): TrainConfig {
  return trainConfig({ model, mean: data.mean, std: data.std, epochs: 1, batchSize: 32, seed: 2, selection, ...overrides });
}

test('a selector with reference features receives its candidates\' rows of the cache, the images\' own features', async () => {
  const reference = await referenceCheckpoint(7);
  const seen: { candidates: number[]; features: Float32Array }[] = [];
  const trainer = new Trainer(rt, selectionConfig({ selector: 'saln', options: { featureSource: 'reference' }, keep: 0.5, reference }), data, tempDir(), {
    log: () => {}, metrics: () => {},
    onSelection: async (info) => { seen.push({ candidates: Array.from(info.candidates), features: await info.features!.download() as Float32Array }); },
  });
  await trainer.run();
  trainer.dispose();
  assert.is(seen.length, 3);
  // The features of those very images, by a forward of the reference outside the trainer.
  const net = createResNet18(rt, model, 7);
  const all = await computeReferenceFeatures(rt, net, data.train, preprocess);
  net.store.dispose();
  for (const { candidates, features } of seen) {
    const dim = all.dim;
    candidates.forEach((row, k) => {
      for (let j = 0; j < dim; j++) assert.is(features[k * dim + j], all.features[row * dim + j], `candidate ${k} (image ${row}), feature ${j}`);
    });
  }
  assert.ok(new Set(seen.flatMap((s) => s.candidates)).size === 96, 'one epoch offers every image once');
});

test('losses are remembered per sample from each forward, with the classes the kept set covers', async () => {
  const records: Record<string, unknown>[] = [];
  const kept: number[][] = [];
  const trainer = new Trainer(rt, selectionConfig({ selector: 'random', options: {}, keep: 0.5 }), data, tempDir(), {
    log: () => {}, metrics: (r) => { if (r.kind === 'step') records.push(r); }, onKept: (k) => { kept.push(Array.from(k)); },
  });
  await trainer.run();
  const keptAll = new Set(kept.flat());
  assert.is(keptAll.size, 48, 'half of 96 back-propagated, each once');
  for (let i = 0; i < 96; i++) {
    assert.is(Number.isFinite(trainer.staleLoss[i]), keptAll.has(i), `sample ${i}: a loss exactly when it was forwarded`);
  }
  for (const r of records) {
    assert.ok((r.keptClasses as number) >= 1 && (r.keptClasses as number) <= (r.batchClasses as number));
  }
  trainer.dispose();
});

test('the scoring forward on batch statistics leaves the running statistics bit for bit', async () => {
  const net = createResNet18(rt, model, 3);
  const before = await net.store.download();
  const x = Tensor.upload(rt, Float32Array.from({ length: 8 * 32 * 32 * 3 }, (_, i) => Math.sin(i)), [8, 32, 32, 3]);
  const tape = new Tape(false);
  const out = tape.keep(net.model.features({ tape, store: net.store, training: true, freezeRunningStats: true }, new Var(x, false)));
  tape.release();
  out.value.dispose();
  const after = await net.store.download();
  for (const [name, t] of before) if (name.includes('running')) assert.equal(Array.from(after.get(name)!.data), Array.from(t.data), name);
  // And without the freeze they do move (the check above can fail).
  const moving = new Tape(false);
  moving.keep(net.model.features({ tape: moving, store: net.store, training: true }, new Var(x, false))).value.dispose();
  moving.release();
  const moved = await net.store.download();
  assert.ok([...before].some(([name, t]) => name.includes('running_mean') && moved.get(name)!.data.some((v, i) => v !== t.data[i])));
  x.dispose(); net.store.dispose();
});

test('keep ratio: whole batches during the warm-up, then a linear ramp down to keep', () => {
  const trainer = new Trainer(rt, selectionConfig({ selector: 'random', options: {}, keep: 0.5, warmupSteps: 2, rampSteps: 4 }, { epochs: 4 }), { ...data, train: subsetImages(data.train, 0, 64) }, tempDir(), { log: () => {}, metrics: () => {} });
  const ratios = [];
  for (let step = 0; step < 8; step++) { trainer.step = step; ratios.push(trainer.keepRatio()); }
  assert.equal(ratios, [1, 1, 0.875, 0.75, 0.625, 0.5, 0.5, 0.5]);
  trainer.dispose();
});

test.after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });
test.run();
