// The trainer on a tiny ResNet and synthetic data: it learns, checkpoints round-trip bit for bit, a resumed run
// repeats the uninterrupted one exactly, bad checkpoints and NaN losses stop cleanly, and steps leak nothing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getRuntime } from '../src/gpu/runtime.ts';
import { NonFiniteLossError, Trainer, type TrainConfig } from '../src/train/trainer.ts';
import { loadTrainData } from '../src/train/data.ts';
import { loadCheckpoint, MODEL_FILE } from '../src/train/checkpoint.ts';
import { createResNet18 } from '../src/nn/resnet.ts';

const rt = await getRuntime();
const data = loadTrainData('synthetic', { limit: 64, testLimit: 32 });

function config(overrides: Partial<TrainConfig> = {}): TrainConfig {
  return {
    model: { stem: 'cifar', width: 1 / 16, inChannels: 3, classes: 10 },
    epochs: 2, batchSize: 16, evalBatchSize: 32, optimizer: 'sgd', lr: 0.05, momentum: 0.9, nesterov: true,
    weightDecay: 5e-4, labelSmoothing: 0, clipNorm: 0, seed: 3, augment: { flip: 0.5 }, mean: data.mean, std: data.std,
    ...overrides,
  };
}

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'saln-train-'));
  dirs.push(dir);
  return dir;
}

/** Runs a trainer and returns its step losses. */
async function train(cfg: TrainConfig, out: string, setup?: (t: Trainer) => void, onStep?: (t: Trainer, step: number) => void): Promise<{ losses: number[]; trainer: Trainer }> {
  const losses: number[] = [];
  const trainer: Trainer = new Trainer(rt, cfg, data, out, {
    log: () => {},
    metrics: (r) => {
      if (r.kind !== 'step') return;
      losses.push(r.loss as number);
      onStep?.(trainer, r.step as number);
    },
  });
  setup?.(trainer);
  await trainer.run();
  return { losses, trainer };
}

test('a tiny ResNet fits 64 samples to 100% training accuracy within 120 steps', async () => {
  const cfg = config({ epochs: 30, augment: {}, optimizer: 'adamw', lr: 0.01, weightDecay: 0 });
  const trainer = new Trainer(rt, cfg, data, tempDir(), { log: () => {}, metrics: () => {} });
  let accuracy = 0;
  let steps = 0;
  // Epochs of 4 steps: check training accuracy (eval mode) after each, stop once perfect.
  for (let epoch = 1; epoch <= 30 && accuracy < 1; epoch++) {
    trainer.config.epochs = epoch;
    await trainer.run();
    accuracy = (await trainer.evaluate(data.train)).accuracy;
    steps = trainer.step;
  }
  trainer.dispose();
  assert.is(accuracy, 1, `training accuracy ${accuracy} after ${steps} steps`);
  assert.ok(steps <= 120);
});

test('a checkpoint round-trips bit for bit, in torchvision names and layouts', async () => {
  const out = tempDir();
  const { trainer } = await train(config({ epochs: 1 }), out);
  const before = await trainer.net.store.download();
  trainer.dispose();
  const fresh = createResNet18(rt, config().model, 99);
  loadCheckpoint(out, fresh.store);
  const after = await fresh.store.download();
  for (const [name, { data }] of before) {
    const other = after.get(name)!.data;
    assert.ok(Buffer.from(data.buffer, data.byteOffset, data.byteLength).equals(Buffer.from(other.buffer, other.byteOffset, other.byteLength)), `${name} differs`);
  }
  fresh.store.dispose();
  // The file holds PyTorch's OIHW layout for convolutions.
  const header = readFileSync(join(out, MODEL_FILE));
  const json = JSON.parse(header.subarray(8, 8 + Number(header.readBigUInt64LE(0))).toString());
  assert.equal(json['conv1.weight'].shape, [4, 3, 3, 3]);
  assert.equal(json['layer2.0.downsample.0.weight'].shape, [8, 4, 1, 1]);
  assert.equal(json['fc.weight'].shape, [10, 32]);
});

test('resume continues exactly: the same losses as an uninterrupted run, from an epoch end or mid-epoch', async () => {
  const whole = await train(config({ epochs: 2 }), tempDir());
  whole.trainer.dispose();
  // Stopped after step 6 (mid-epoch 2: 4 steps per epoch), then resumed.
  const out = tempDir();
  const first = await train(config({ epochs: 2 }), out, undefined, (t, step) => { if (step === 6) t.requestStop(); });
  first.trainer.dispose();
  assert.is(first.losses.length, 6);
  const second = await train(config({ epochs: 2 }), out, (t) => t.resume(out));
  second.trainer.dispose();
  assert.equal([...first.losses, ...second.losses], whole.losses);
});

test('a truncated or corrupt checkpoint is one clear error naming the file', async () => {
  const out = tempDir();
  (await train(config({ epochs: 1 }), out)).trainer.dispose();
  const fresh = createResNet18(rt, config().model, 1);
  const model = join(out, MODEL_FILE);
  const size = readFileSync(model).length;
  truncateSync(model, size - 100);
  assert.throws(() => loadCheckpoint(out, fresh.store), (e: Error) => e.message.includes(model) && !e.message.includes('\n'));
  writeFileSync(model, 'not a checkpoint');
  assert.throws(() => loadCheckpoint(out, fresh.store), (e: Error) => e.message.includes(model));
  fresh.store.dispose();
});

test('a NaN loss stops the run with a clear error and keeps the last good checkpoint', async () => {
  const out = tempDir();
  (await train(config({ epochs: 1 }), out)).trainer.dispose();
  const good = readFileSync(join(out, MODEL_FILE));
  const trainer = new Trainer(rt, config({ epochs: 2 }), data, out, { log: () => {}, metrics: () => {}, poisonStep: 6 });
  trainer.resume(out);
  try {
    await trainer.run();
    assert.unreachable('the run went on after a NaN loss');
  } catch (e) {
    assert.instance(e, NonFiniteLossError);
    assert.match((e as Error).message, /became NaN at step 6 .* last good checkpoint/);
  }
  trainer.dispose();
  assert.ok(readFileSync(join(out, MODEL_FILE)).equals(good), 'the checkpoint was overwritten');
});

test('the pool holds the same live bytes after step 10 and step 100', async () => {
  const live: Record<number, number> = {};
  const { trainer } = await train(config({ epochs: 25, augment: { flip: 0.5, crop: { padding: 2, size: 16 } } }), tempDir(), undefined, (_, step) => {
    if (step === 10 || step === 100) live[step] = rt.pool.report().liveBytes;
  });
  trainer.dispose();
  assert.ok(live[10] > 0);
  assert.is(live[100], live[10]);
});

test('a selector back-propagates its kept share, and a keep schedule moves it linearly', async () => {
  const kept: number[] = [];
  const cfg = config({ epochs: 2, selection: { selector: 'random', options: {}, keep: 0.25, keepEnd: 1 } });
  const trainer = new Trainer(rt, cfg, data, tempDir(), { log: () => {}, metrics: (r) => { if (r.kind === 'step') kept.push(r.backpropagated as number); } });
  await trainer.run();
  trainer.dispose();
  // 8 steps of 16 candidates: keep goes 0.25 -> 1 over steps 0..7, k = round(r * 16) (at least 2).
  assert.equal(kept, [4, 6, 7, 9, 11, 13, 14, 16]);
});

test.after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

test.run();
