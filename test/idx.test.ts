// The IDX reader on small generated files (plain and gzipped, valid and each kind of damage), and the real
// Fashion-MNIST files that `npm run setup` installs.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { readIdx, loadIdxPair, type IdxPairSpec } from '../datasets/idx.ts';
import { loadFashionMnist, FASHION_MNIST_DIR, FASHION_MNIST_CLASSES } from '../datasets/fashion-mnist.ts';
import { throwsOneLine } from './assertions.ts';

const dir = mkdtempSync(join(tmpdir(), 'saln-idx-'));

/** An IDX file as the spec lays it out: 0 0 type rank, big-endian u32 sizes, then the bytes. */
function idxBytes(dims: number[], data: ArrayLike<number>, type = 0x08): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = type;
  header[3] = dims.length;
  dims.forEach((size, d) => header.writeUInt32BE(size, 4 + 4 * d));
  return Buffer.concat([header, Buffer.from(Array.from(data))]);
}

function write(name: string, bytes: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}


const pixels = Array.from({ length: 3 * 2 * 4 }, (_, i) => (i * 37) % 256);

test('reads plain and gzipped IDX files with big-endian sizes', () => {
  const plain = readIdx(write('plain-idx3-ubyte', idxBytes([3, 2, 4], pixels)));
  assert.equal(plain.dims, [3, 2, 4]);
  assert.equal([...plain.data], pixels);
  const gz = readIdx(write('gz-idx3-ubyte.gz', gzipSync(idxBytes([3, 2, 4], pixels))));
  assert.equal(gz.dims, [3, 2, 4]);
  assert.equal([...gz.data], pixels);
  // A size above 255 proves the sizes are read big-endian: 0x00000101 = 257, not 0x01010000.
  const wide = readIdx(write('wide-idx1-ubyte', idxBytes([257], new Array(257).fill(7))));
  assert.equal(wide.dims, [257]);
});

test('each kind of damage is one line naming the file and the problem', () => {
  const good = idxBytes([3, 2, 4], pixels);
  const badMagic = Buffer.from(good);
  badMagic[0] = 0x50;
  let path = write('bad-magic', badMagic);
  throwsOneLine(() => readIdx(path), new RegExp(`^${path}: not an IDX file \\(magic starts 0x50 0x00`));
  path = write('float-type', idxBytes([2], [0, 0, 0, 0, 0, 0, 0, 0], 0x0d));
  throwsOneLine(() => readIdx(path), new RegExp(`^${path}: unsupported element type 0x0d \\(float32\\)`));
  path = write('truncated-data', good.subarray(0, good.length - 5));
  throwsOneLine(() => readIdx(path), new RegExp(`^${path}: truncated: dimensions 3x2x4 need 24 data bytes, the file has 19`));
  path = write('truncated-header', good.subarray(0, 9));
  throwsOneLine(() => readIdx(path), new RegExp(`^${path}: truncated: the header of 3 dimensions needs 16 bytes`));
  path = write('trailing', Buffer.concat([good, Buffer.from([1, 2, 3])]));
  throwsOneLine(() => readIdx(path), new RegExp(`^${path}: 3 bytes of trailing garbage`));
  path = write('trailing.gz', gzipSync(Buffer.concat([good, Buffer.from([9])])));
  throwsOneLine(() => readIdx(path), new RegExp(`^${path}: 1 bytes of trailing garbage`));
  const gz = gzipSync(good);
  path = write('cut.gz', gz.subarray(0, gz.length - 10));
  throwsOneLine(() => readIdx(path), new RegExp(`^${path}: corrupt or truncated gzip stream`));
  path = join(dir, 'missing');
  throwsOneLine(() => readIdx(path), new RegExp(`^${path}: cannot read \\(ENOENT\\)`));
});

function pairSpec(subdir: string, limit?: number): IdxPairSpec {
  return {
    dataset: 'Tiny', dir: join(dir, subdir), imagesFile: 'train-images-idx3-ubyte', labelsFile: 'train-labels-idx1-ubyte',
    classes: ['a', 'b', 'c'], height: 2, width: 4, installHint: "run 'npm run setup'", limit,
  };
}

function writePair(subdir: string, images: Buffer, labels: Buffer, gzipImages = false) {
  rmSync(join(dir, subdir), { recursive: true, force: true });
  mkdirSync(join(dir, subdir));
  write(`${subdir}/train-images-idx3-ubyte${gzipImages ? '.gz' : ''}`, gzipImages ? gzipSync(images) : images);
  write(`${subdir}/train-labels-idx1-ubyte`, labels);
}

test('an images file and a labels file load as NHWC samples, gzipped or not, with a limit', () => {
  writePair('pair', idxBytes([3, 2, 4], pixels), idxBytes([3], [2, 0, 1]), true);
  const all = loadIdxPair(pairSpec('pair'));
  assert.is(all.count, 3);
  assert.equal([all.height, all.width, all.channels], [2, 4, 1]);
  assert.equal([...all.images], pixels);
  assert.equal([...all.labels], [2, 0, 1]);
  assert.equal(all.classes, ['a', 'b', 'c']);
  const first = loadIdxPair(pairSpec('pair', 2));
  assert.is(first.count, 2);
  assert.equal([...first.images], pixels.slice(0, 16));
  assert.equal([...first.labels], [2, 0]);
  assert.is(loadIdxPair(pairSpec('pair', 100)).count, 3);
  throwsOneLine(() => loadIdxPair(pairSpec('pair', 0)), /^Tiny: limit must be a positive integer, got 0$/);
});

test('mismatched counts, bad labels, wrong image size and missing files are reported', () => {
  writePair('mismatch', idxBytes([3, 2, 4], pixels), idxBytes([2], [0, 1]));
  throwsOneLine(() => loadIdxPair(pairSpec('mismatch')), /train-images-idx3-ubyte: 3 images but .*train-labels-idx1-ubyte has 2 labels$/);
  writePair('range', idxBytes([3, 2, 4], pixels), idxBytes([3], [0, 3, 1]));
  throwsOneLine(() => loadIdxPair(pairSpec('range')), /train-labels-idx1-ubyte: label 3 at index 1 is out of range for 3 classes$/);
  writePair('size', idxBytes([2, 3, 4], pixels), idxBytes([2], [0, 1]));
  throwsOneLine(() => loadIdxPair(pairSpec('size')), /expected images of N x 2 x 4, the file holds 2 x 3 x 4$/);
  throwsOneLine(() => loadIdxPair(pairSpec('no-such-dir')), new RegExp(`^Tiny not found: no directory ${join(dir, 'no-such-dir')}; run 'npm run setup'$`));
  writePair('nolabels', idxBytes([3, 2, 4], pixels), idxBytes([3], [0, 1, 2]));
  rmSync(join(dir, 'nolabels', 'train-labels-idx1-ubyte'));
  throwsOneLine(() => loadIdxPair(pairSpec('nolabels')), /^Tiny not found: looked for .*nolabels\/train-labels-idx1-ubyte\(\.gz\); run 'npm run setup'$/);
});

test('Fashion-MNIST: a missing directory says where it looked and to run npm run setup', () => {
  throwsOneLine(() => loadFashionMnist(join(dir, 'absent'), 'test'), /^Fashion-MNIST not found: no directory .*absent; run 'npm run setup'/);
});

test('Fashion-MNIST from the installed package: 60000 train and 10000 test images of 28x28', () => {
  // `npm run setup` installs dataset-fashion-mnist, so its absence is a failed set-up, not a reason to skip.
  assert.ok(existsSync(FASHION_MNIST_DIR), `${FASHION_MNIST_DIR} is missing: run 'npm run setup'`);
  const train = loadFashionMnist(FASHION_MNIST_DIR, 'train');
  assert.is(train.count, 60000);
  assert.is(train.images.length, 60000 * 28 * 28);
  assert.equal([train.height, train.width, train.channels], [28, 28, 1]);
  // The training split is balanced: 6000 of each class.
  const perClass = new Array(10).fill(0);
  for (const label of train.labels) perClass[label]++;
  assert.equal(perClass, new Array(10).fill(6000));
  const testSplit = loadFashionMnist(FASHION_MNIST_DIR, 'test', { limit: 5 });
  assert.is(testSplit.count, 5);
  assert.is(testSplit.images.length, 5 * 28 * 28);
  // The first five test labels of the published release: ankle boot, pullover, trouser, trouser, shirt.
  assert.equal([...testSplit.labels], [9, 2, 1, 1, 6]);
  assert.equal(testSplit.classes, FASHION_MNIST_CLASSES);
  assert.is(loadFashionMnist(FASHION_MNIST_DIR, 'test').count, 10000);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
