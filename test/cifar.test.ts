// The CIFAR-10 / CIFAR-100 binary readers on tiny sets written in the release's record layout (label byte(s),
// then 1024 R, 1024 G, 1024 B row-major): planar-to-NHWC conversion, class names, label kinds, and each kind
// of damage as a one-line error naming the file.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCifar10, loadCifar100 } from '../datasets/cifar.ts';
import { throwsOneLine } from './assertions.ts';

const tmp = mkdtempSync(join(tmpdir(), 'saln-cifar-'));
const CIFAR10_NAMES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

/** A distinct byte for every (record, channel, position), so any mis-strided copy shows. */
const planeByte = (record: number, channel: number, position: number) => (record * 71 + channel * 29 + position * 7) % 256;

function record(labels: number[], seed: number): Uint8Array {
  const bytes = new Uint8Array(labels.length + 3072);
  bytes.set(labels, 0);
  for (let c = 0; c < 3; c++) for (let p = 0; p < 1024; p++) bytes[labels.length + c * 1024 + p] = planeByte(seed, c, p);
  return bytes;
}

const concat = (parts: Uint8Array[]) => Buffer.concat(parts);

/** cifar-10-batches-bin/ under `parent` with two 3-record training batches and a 3-record test batch. */
function writeCifar10(parent: string, labelsOf = (r: number) => (r * 3) % 10): string {
  const dir = join(parent, 'cifar-10-batches-bin');
  mkdirSync(dir, { recursive: true });
  const batch = (first: number) => concat([0, 1, 2].map((k) => record([labelsOf(first + k)], first + k)));
  writeFileSync(join(dir, 'data_batch_1.bin'), batch(0));
  writeFileSync(join(dir, 'data_batch_2.bin'), batch(3));
  writeFileSync(join(dir, 'test_batch.bin'), batch(100));
  writeFileSync(join(dir, 'batches.meta.txt'), `${CIFAR10_NAMES.join('\n')}\n\n`);
  return dir;
}

const tiny = { trainBatches: 2, recordsPerBatch: 3 };

test('CIFAR-10: planar records become NHWC, labels and class names read, parent or folder accepted', () => {
  const parent = join(tmp, 'c10');
  const dir = writeCifar10(parent);
  const train = loadCifar10(parent, 'train', tiny);
  assert.is(train.count, 6);
  assert.equal([train.height, train.width, train.channels], [32, 32, 3]);
  assert.equal(train.classes, CIFAR10_NAMES);
  assert.equal([...train.labels], [0, 3, 6, 9, 2, 5]);
  // A known pixel: record 4 (second batch, second record), row 5, column 7, green = plane 1 at 5*32+7.
  const at = (n: number, y: number, x: number, c: number) => train.images[((n * 32 + y) * 32 + x) * 3 + c];
  assert.is(at(4, 5, 7, 1), planeByte(4, 1, 5 * 32 + 7));
  for (let n = 0; n < 6; n++) {
    for (let p = 0; p < 1024; p++) {
      for (let c = 0; c < 3; c++) if (train.images[(n * 1024 + p) * 3 + c] !== planeByte(n, c, p)) assert.unreachable(`record ${n} pixel ${p} channel ${c}`);
    }
  }
  const testSplit = loadCifar10(dir, 'test', tiny);
  assert.is(testSplit.count, 3);
  assert.is(testSplit.images[3 * 33 + 2], planeByte(100, 2, 33));
  const limited = loadCifar10(parent, 'train', { ...tiny, limit: 4 });
  assert.is(limited.count, 4);
  assert.equal([...limited.labels], [0, 3, 6, 9]);
  assert.equal(limited.images, train.images.slice(0, 4 * 3072));
});

test('CIFAR-10: missing, truncated, out-of-range and wrong-count files are one-line errors naming the file', () => {
  const parent = join(tmp, 'c10-bad');
  const dir = writeCifar10(parent);
  throwsOneLine(() => loadCifar10(join(tmp, 'nowhere')), /CIFAR-10 not found: no directory .*nowhere; run 'saln data download cifar10'/);
  // The release has 5 training batches: the fixture's 2 leave data_batch_3 missing.
  throwsOneLine(() => loadCifar10(parent, 'train', { recordsPerBatch: 3 }), new RegExp(`no data_batch_3.bin \\(looked for ${join(dir, 'data_batch_3.bin')}\\); run 'saln data download cifar10'`));
  throwsOneLine(() => loadCifar10(parent, 'train', { trainBatches: 2 }), new RegExp(`^${join(dir, 'data_batch_1.bin')}: holds 3 records, expected 10000`));
  writeFileSync(join(dir, 'data_batch_2.bin'), concat([record([1], 0), record([1], 1).subarray(0, 100)]));
  throwsOneLine(() => loadCifar10(parent, 'train', tiny), new RegExp(`^${join(dir, 'data_batch_2.bin')}: truncated or not a CIFAR binary file: 3173 bytes is not a whole number of 3073-byte records`));
  writeFileSync(join(dir, 'test_batch.bin'), concat([record([1], 0), record([10], 1), record([2], 2)]));
  throwsOneLine(() => loadCifar10(parent, 'test', tiny), new RegExp(`^${join(dir, 'test_batch.bin')}: label 10 in record 1 is out of range for 10 classes`));
  writeFileSync(join(dir, 'batches.meta.txt'), 'airplane\nautomobile\n');
  throwsOneLine(() => loadCifar10(parent, 'test', tiny), new RegExp(`^${join(dir, 'batches.meta.txt')}: lists 2 class names, expected 10`));
  rmSync(join(dir, 'batches.meta.txt'));
  // With no marker file in either place the error names both places it looked.
  throwsOneLine(() => loadCifar10(parent, 'test', tiny), new RegExp(`CIFAR-10 not found: no batches.meta.txt \\(looked for ${join(parent, 'batches.meta.txt')} and ${join(dir, 'batches.meta.txt')}\\)`));
  throwsOneLine(() => loadCifar10(parent, 'valid' as 'train'), /unknown split 'valid'/);
  throwsOneLine(() => loadCifar10(parent, 'train', { limit: 0 }), /limit must be a positive integer, got 0/);
});

function writeCifar100(parent: string, records: [number, number][]): string {
  const dir = join(parent, 'cifar-100-binary');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'train.bin'), concat(records.map((labels, r) => record(labels, r))));
  writeFileSync(join(dir, 'test.bin'), concat([record([19, 99], 50)]));
  writeFileSync(join(dir, 'fine_label_names.txt'), Array.from({ length: 100 }, (_, k) => `fine${k}`).join('\n') + '\n');
  writeFileSync(join(dir, 'coarse_label_names.txt'), Array.from({ length: 20 }, (_, k) => `coarse${k}`).join('\n') + '\n');
  return dir;
}

test('CIFAR-100: fine (default) and coarse labels from the two label bytes, NHWC pixels', () => {
  const parent = join(tmp, 'c100');
  const dir = writeCifar100(parent, [[4, 30], [19, 99], [0, 0], [7, 55]]);
  const fine = loadCifar100(parent, 'train', { records: 4 });
  assert.equal([...fine.labels], [30, 99, 0, 55]);
  assert.is(fine.classes.length, 100);
  assert.is(fine.classes[99], 'fine99');
  assert.is(fine.images[(3 * 1024 + 40) * 3 + 2], planeByte(3, 2, 40));
  const coarse = loadCifar100(dir, 'train', { records: 4, labels: 'coarse' });
  assert.equal([...coarse.labels], [4, 19, 0, 7]);
  assert.equal(coarse.classes, Array.from({ length: 20 }, (_, k) => `coarse${k}`));
  assert.equal(coarse.images, fine.images);
  const testSplit = loadCifar100(parent, 'test', { records: 1 });
  assert.equal([...testSplit.labels], [99]);
  assert.is(loadCifar100(parent, 'train', { records: 4, limit: 2 }).count, 2);
});

test('CIFAR-100: out-of-range labels of either kind, wrong counts, truncation and missing files', () => {
  const parent = join(tmp, 'c100-bad');
  const dir = writeCifar100(parent, [[4, 30], [20, 100]]);
  const train = join(dir, 'train.bin');
  throwsOneLine(() => loadCifar100(parent, 'train', { records: 2 }), new RegExp(`^${train}: label 100 in record 1 is out of range for 100 classes`));
  throwsOneLine(() => loadCifar100(parent, 'train', { records: 2, labels: 'coarse' }), new RegExp(`^${train}: label 20 in record 1 is out of range for 20 classes`));
  throwsOneLine(() => loadCifar100(parent, 'train'), new RegExp(`^${train}: holds 2 records, expected 50000`));
  writeFileSync(train, record([1, 2], 0).subarray(0, 3073));
  throwsOneLine(() => loadCifar100(parent, 'train', { records: 1 }), new RegExp(`^${train}: truncated or not a CIFAR binary file: 3073 bytes is not a whole number of 3074-byte records`));
  rmSync(join(dir, 'coarse_label_names.txt'));
  throwsOneLine(() => loadCifar100(parent, 'test', { labels: 'coarse' }), /CIFAR-100 not found: no coarse_label_names.txt .*run 'saln data download cifar100'/);
  throwsOneLine(() => loadCifar100(parent, 'test', { labels: 'medium' as 'fine' }), /labels must be 'fine' or 'coarse', got 'medium'/);
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));

test.run();
