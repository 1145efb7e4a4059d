// `saln train` as a user runs it: help, bad flags, a NaN loss, Ctrl-C with a checkpoint, and --resume.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readMetrics } from '../src/train/metrics.ts';
import { BIN, removeTempDirs, saln, tempDir as temp, TINY } from './saln-cli.ts';

test('train --help documents the flags; a bad value is one line with exit 2', () => {
  const help = saln(['train', '--help']);
  assert.is(help.status, 0);
  for (const flag of ['--dataset', '--epochs', '--batch-size', '--lr', '--optimizer', '--schedule', '--limit', '--seed', '--out', '--pretrained', '--resume']) assert.ok(help.stdout.includes(flag), flag);
  const bad = saln(['train', '--epochs', 'three']);
  assert.is(bad.status, 2);
  assert.is(bad.stderr.trim(), "saln: train: --epochs must be a positive integer, got 'three'\nusage: saln train [options]");
  const dataset = saln(['train', '--dataset', 'imagenet21k']);
  assert.is(dataset.status, 2);
  assert.match(dataset.stderr, /unknown dataset 'imagenet21k'; available: fashion-mnist, mnist, cifar10, cifar100, oxford-pets, folder, synthetic/);
});

test('a NaN loss stops the run: one line naming the step, exit 1', () => {
  const out = temp();
  const r = saln(['train', ...TINY, '--epochs', '1', '--out', out, '--inject', 'nan-loss@2']);
  assert.is(r.status, 1);
  assert.match(r.stderr, /saln: NaN in the loss at step 2 \(epoch 1\); training stopped and no checkpoint was saved yet in /);
});

test('Ctrl-C saves a checkpoint; --resume finishes with the losses of an uninterrupted run', async () => {
  const whole = temp();
  assert.is(saln(['train', ...TINY, '--epochs', '3', '--out', whole]).status, 0);
  const expected = readMetrics(join(whole, 'metrics.jsonl')).records.filter((r) => r.kind === 'step').map((r) => r.loss);

  const out = temp();
  const child = spawn(process.execPath, [BIN, 'train', ...TINY, '--epochs', '3', '--out', out], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  // Interrupt once the first epoch's evaluation has been logged.
  const code = await new Promise<number | null>((resolve) => {
    const timer = setInterval(() => { if (stderr.includes('epoch 1: test accuracy')) { clearInterval(timer); child.kill('SIGINT'); } }, 50);
    child.on('exit', (status) => { clearInterval(timer); resolve(status); });
  });
  assert.is(code, 130, stderr);
  assert.match(stderr, /checkpoint saved in .* \(continue with --resume /);
  assert.ok(existsSync(join(out, 'model.safetensors')));
  const resumed = saln(['train', '--resume', out]);
  assert.is(resumed.status, 0, resumed.stderr);
  const losses = readMetrics(join(out, 'metrics.jsonl')).records.filter((r) => r.kind === 'step').map((r) => r.loss);
  assert.equal(losses, expected);
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
  assert.is(summary.steps, 12);
});

test('--profile prints the device time per kernel of step 3 and records it in metrics.jsonl', () => {
  const out = temp();
  const r = saln(['train', ...TINY, '--epochs', '1', '--out', out, '--profile']);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stderr, /profile of step 3 \(timestamp queries\): \d+ dispatches, \d+ ms of kernel time, peak pool [\d.]+ MiB\n\s+shaders\//);
  const profile = readMetrics(join(out, 'metrics.jsonl')).records.find((rec) => rec.kind === 'profile');
  assert.ok(profile && Array.isArray(profile.kernels) && (profile.kernels as unknown[]).length > 5);
});

test.after(removeTempDirs);

test.run();
