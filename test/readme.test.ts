// The README's library example runs as written, through the package's own exports (`from 'saln'`, i.e. dist/),
// and computes what the sources compute: training is deterministic, so its printed accuracy must equal, exactly,
// that of the same configuration trained here in-process from src/.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getRuntime } from '../src/gpu/runtime.ts';
import { Trainer, trainConfig } from '../src/train/trainer.ts';
import { loadTrainData } from '../datasets/registry.ts';
import { Tensor } from '../src/tensor.ts';
import { createSelector } from '../src/select/registry.ts';
import { buildGraph } from '../src/ops/graph.ts';
import { lanczos } from '../src/linalg/lanczos.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

test('the README library example trains and prints the accuracy the sources compute', async () => {
  const readme = readFileSync(`${root}/README.md`, 'utf8');
  const block = /<!-- readme-example -->\s*```js\n([\s\S]*?)```/.exec(readme);
  assert.ok(block, 'README.md has no example block');
  // The configuration this test repeats; a changed example must change both.
  assert.match(block![1], /loadTrainData\('synthetic', \{ limit: 64, testLimit: 32 \}\)/);
  assert.match(block![1], /model: \{ stem: 'cifar', width: 1 \/ 16, inChannels: 3, classes: 10 \},\s*epochs: 2, batchSize: 16, mean: data\.mean, std: data\.std,/);
  // Inside the package, so that 'saln' resolves to this package by its own name.
  const file = `${root}/test/.readme-example.mjs`;
  writeFileSync(file, block![1]);
  let printed: { steps: number; accuracy: number };
  try {
    const r = spawnSync(process.execPath, [file], { cwd: root, encoding: 'utf8', timeout: 300_000 });
    assert.is(r.status, 0, r.stderr);
    printed = JSON.parse(r.stdout.trim().split('\n').pop()!);
  } finally {
    rmSync(file, { force: true });
    rmSync(`${root}/runs/readme-example`, { recursive: true, force: true });
  }
  assert.is(printed.steps, 8);

  const rt = await getRuntime();
  const data = loadTrainData('synthetic', { limit: 64, testLimit: 32 });
  const config = trainConfig({ model: { stem: 'cifar', width: 1 / 16, inChannels: 3, classes: 10 }, epochs: 2, batchSize: 16, mean: data.mean, std: data.std });
  const out = mkdtempSync(join(tmpdir(), 'saln-readme-'));
  try {
    const trainer = new Trainer(rt, config, data, out, { log: () => {}, metrics: () => {} });
    const summary = await trainer.run();
    trainer.dispose();
    assert.is(summary.finalEval!.count, 32);
    assert.is(printed.accuracy, summary.finalEval!.accuracy, 'the example (dist/) and the sources disagree: rebuild dist/ (npm run build)');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

/** Runs the README block after `marker` through the package's own exports; returns its last printed line, parsed. */
function runReadmeBlock(marker: string): any {
  const readme = readFileSync(`${root}/README.md`, 'utf8');
  const block = new RegExp(`<!-- ${marker} -->\\s*\`\`\`js\\n([\\s\\S]*?)\`\`\``).exec(readme);
  assert.ok(block, `README.md has no block after <!-- ${marker} -->`);
  const file = `${root}/test/.readme-example.mjs`;
  writeFileSync(file, block![1]);
  try {
    const r = spawnSync(process.execPath, [file], { cwd: root, encoding: 'utf8', timeout: 300_000 });
    assert.is(r.status, 0, r.stderr);
    return JSON.parse(r.stdout.trim().split('\n').pop()!);
  } finally {
    rmSync(file, { force: true });
  }
}

test('the README selection example (a selector and Lanczos from a custom loop) prints what the sources compute', async () => {
  const printed = runReadmeBlock('readme-example: selection');
  const rt = await getRuntime();
  const B = 48, F = 8;
  const values = Float32Array.from({ length: B * F }, (_, i) => (i < B * F / 2 ? 1 : -1) * (1 + (i % F)) + Math.sin(i));
  const features = Tensor.upload(rt, values, [B, F]);
  const labels = Tensor.upload(rt, Array.from({ length: B }, (_, i) => i % 4), [B], 'u32');
  const { indices } = await createSelector('saln', { rule: 'proportional' }).select({ rt, batchSize: B, keep: 12, labels, features, seed: 0, step: 1 });
  const graph = buildGraph(features, { affinity: 'clip', temperature: 1, laplacian: 'unnormalized' });
  const fiedler = await lanczos(rt, graph.laplacian, { count: 1, deflate: graph.nullVector });
  for (const tensor of [features, labels, fiedler.vectors]) tensor.dispose();
  graph.dispose();
  assert.is(printed.kept.length, 12);
  assert.equal(printed.kept, [...indices], 'the example (dist/) and the sources keep different candidates: rebuild dist/ (npm run build)');
  assert.is(printed.fiedlerValue, fiedler.values[0]);
  assert.ok(printed.converged);
});

test.run();
