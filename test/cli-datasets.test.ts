// `saln train` on CIFAR-10 and Oxford-IIIT Pet in their real formats (tiny fixtures), and `saln data list`.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeTinyCifar10, writeTinyPets } from '../datasets/fixtures.ts';
import { removeTempDirs, saln, tempDir } from './saln-cli.ts';

const root = tempDir('saln-datasets-');
const TINY_MODEL = ['--stem', 'cifar', '--width', '0.0625', '--batch-size', '8', '--epochs', '1', '--seed', '1'];

test('saln train --dataset cifar10 --data-dir <tiny CIFAR-10 binary set> runs', () => {
  writeTinyCifar10(join(root, 'c10'));
  const out = join(root, 'run-c10');
  const r = saln(['train', '--dataset', 'cifar10', '--data-dir', join(root, 'c10'), ...TINY_MODEL, '--out', out]);
  assert.is(r.status, 0, r.stderr);
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
  assert.is(summary.imagesTrained, 40);
  assert.is(summary.finalEval.count, 10);
  assert.is(summary.config.model.inChannels, 3);
  assert.is(summary.config.model.classes, 10);
});

test('saln train --dataset oxford-pets --data-dir <tiny Pet folder> decodes, caches and trains', () => {
  const dir = writeTinyPets(join(root, 'pets'));
  const out = join(root, 'run-pets');
  const args = ['train', '--dataset', 'oxford-pets', '--data-dir', dir, '--image-size', '24', ...TINY_MODEL, '--out', out];
  const first = saln(args);
  assert.is(first.status, 0, first.stderr);
  assert.match(first.stderr, /decoding images/);
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
  assert.is(summary.imagesTrained, 12);
  assert.is(summary.finalEval.count, 6);
  assert.is(summary.config.model.classes, 3);
  // The second run reads the decoded cache instead of the JPEGs.
  const second = saln(args);
  assert.is(second.status, 0, second.stderr);
  assert.not.match(second.stderr, /decoding images/);
});

test('saln data list shows the Fashion-MNIST splits this machine has', () => {
  const r = saln(['data', 'list']);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /fashion-mnist\s+present\s+train 60,000 \/ test 10,000/);
});

test.after(removeTempDirs);

test.run();
