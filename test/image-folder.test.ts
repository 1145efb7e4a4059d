// The image-folder loader (root/<class>/*.png|jpg|jpeg) on PNG folders written with fast-png: sorted class
// names, the seeded per-class split (reproducible, disjoint, complete), default and explicit sizes, grey
// expansion and luma, and the errors (empty class folder, mixed sizes, unreadable files) with skipBad.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode as encodePng } from 'fast-png';
import jpeg from 'jpeg-js';
import { loadImageFolder, listImageFolder } from '../datasets/image-folder.ts';
import { throwsOneLine } from './assertions.ts';

const tmp = mkdtempSync(join(tmpdir(), 'saln-folder-'));

/** A flat PNG whose value identifies it: RGB (id, 2*id, 255-id) or, with channels 1, grey id. */
function png(width: number, height: number, id: number, channels: 1 | 3 = 3): Uint8Array {
  const data = new Uint8Array(width * height * channels);
  for (let p = 0; p < width * height; p++) data.set(channels === 3 ? [id, 2 * id, 255 - id] : [id], channels * p);
  return encodePng({ width, height, data, channels, depth: 8 });
}

/** Classes 'zebra' (5 images) and 'ant' (6), each image 12 wide and 10 high, plus entries the loader ignores. */
function writeFolder(root: string): void {
  for (const [name, n, first] of [['zebra', 5, 100], ['ant', 6, 10]] as const) {
    mkdirSync(join(root, name), { recursive: true });
    for (let k = 0; k < n; k++) writeFileSync(join(root, name, `img${k}.png`), png(12, 10, first + k));
    writeFileSync(join(root, name, 'notes.txt'), 'not an image');
  }
  mkdirSync(join(root, '.saln-cache'), { recursive: true });
  writeFileSync(join(root, 'README'), 'ignored');
}


test('classes are sorted folder names; the default size is the common one; pixels and labels match the files', () => {
  const root = join(tmp, 'basic');
  writeFolder(root);
  const listing = listImageFolder(root);
  assert.equal(listing.classes, ['ant', 'zebra']);
  assert.is(listing.files.length, 11);
  const all = loadImageFolder(root, { split: 'all' });
  assert.equal([all.count, all.height, all.width, all.channels], [11, 10, 12, 3]);
  assert.equal(all.classes, ['ant', 'zebra']);
  assert.equal([...all.labels], [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);
  const pixels = 120;
  all.files.forEach((file, n) => {
    const id = Number(file.match(/img(\d)\.png$/)![1]) + (all.labels[n] === 0 ? 10 : 100);
    assert.equal([...all.images.subarray(n * pixels * 3, n * pixels * 3 + 3)], [id, 2 * id, 255 - id], file);
  });
});

test('the split is per class, disjoint, complete, and reproducible by seed', () => {
  const root = join(tmp, 'split');
  writeFolder(root);
  const train = loadImageFolder(root, { seed: 3 });
  const testPart = loadImageFolder(root, { split: 'test', seed: 3 });
  // round(6 * 0.2) = 1 ant and round(5 * 0.2) = 1 zebra held out.
  assert.equal([train.count, testPart.count], [9, 2]);
  assert.equal([...testPart.labels], [0, 1]);
  assert.equal([...train.files, ...testPart.files].sort(), listImageFolder(root).files.map((s) => s.file).sort());
  assert.equal(loadImageFolder(root, { split: 'test', seed: 3 }).files, testPart.files);
  assert.equal(loadImageFolder(root, { split: 'test', seed: 3 }).images, testPart.images);
  const heldOut = new Set(Array.from({ length: 8 }, (_, seed) => loadImageFolder(root, { split: 'test', seed }).files.join()));
  assert.ok(heldOut.size > 1, 'other seeds hold out other files');
  const half = loadImageFolder(root, { split: 'test', seed: 3, testFraction: 0.5 });
  // round(6 * 0.5) = 3 ants and round(5 * 0.5) = 3 zebras (Math.round rounds halves up).
  assert.equal([...half.labels], [0, 0, 0, 1, 1, 1]);
  const limited = loadImageFolder(root, { split: 'all', limit: 3 });
  assert.equal([...limited.labels], [0, 0, 1]);
  throwsOneLine(() => loadImageFolder(root, { testFraction: 1 }), /testFraction must be in \[0, 1\), got 1/);
});

test('explicit sizes resize and crop; grey images expand to RGB; channels 1 gives luma; JPEGs load too', () => {
  const root = join(tmp, 'mixed');
  mkdirSync(join(root, 'grey'), { recursive: true });
  mkdirSync(join(root, 'rgb'), { recursive: true });
  writeFileSync(join(root, 'grey', 'a.png'), png(9, 14, 77, 1));
  writeFileSync(join(root, 'rgb', 'b.png'), png(20, 7, 40));
  const rgba = new Uint8Array(16 * 16 * 4).fill(128);
  writeFileSync(join(root, 'rgb', 'c.JPG'), jpeg.encode({ width: 16, height: 16, data: rgba }, 90).data);
  throwsOneLine(() => loadImageFolder(root, { split: 'all' }), new RegExp(`^${root}: images differ in size \\(.*a.png is 9x14, .*b.png is 20x7\\); pass imageSize`));
  const rgb = loadImageFolder(root, { split: 'all', imageSize: 6 });
  assert.equal([rgb.count, rgb.height, rgb.width, rgb.channels], [3, 6, 6, 3]);
  assert.ok(rgb.images.subarray(0, 108).every((v) => v === 77), 'grey repeated into R, G and B');
  assert.ok(rgb.images.subarray(108, 216).every((v, i) => v === [40, 80, 215][i % 3]));
  assert.ok(rgb.images.subarray(216).every((v) => Math.abs(v - 128) <= 2), 'JPEG flat grey');
  const grey = loadImageFolder(root, { split: 'all', imageSize: { height: 4, width: 5 }, channels: 1 });
  assert.equal([grey.height, grey.width, grey.channels, grey.images.length], [4, 5, 1, 60]);
  // PIL's luma weights: (40*19595 + 80*38470 + 215*7471 + 32768) >> 16 = 83.
  assert.equal([grey.images[0], grey.images[20]], [77, 83]);
});

test('empty class folders and unreadable images are errors naming them; skipBad skips and counts', () => {
  const root = join(tmp, 'bad');
  writeFolder(root);
  mkdirSync(join(root, 'moth'));
  throwsOneLine(() => loadImageFolder(root), new RegExp(`^${join(root, 'moth')}: class folder 'moth' holds no .png, .jpg or .jpeg images`));
  rmSync(join(root, 'moth'), { recursive: true });
  const bad = join(root, 'ant', 'img9.png');
  writeFileSync(bad, Buffer.from(png(12, 10, 1)).subarray(0, 40));
  throwsOneLine(() => loadImageFolder(root, { split: 'all', imageSize: 8 }), new RegExp(`^${bad}: cannot decode PNG \\(`));
  const warnings: string[] = [];
  const skipping = loadImageFolder(root, { split: 'all', imageSize: 8, skipBad: true, onWarning: (m) => warnings.push(m) });
  assert.equal([skipping.count, skipping.skipped, warnings.length], [11, 1, 1]);
  assert.match(warnings[0], new RegExp(`^skipped ${bad}: cannot decode PNG`));
  // Without imageSize the header probe meets the bad file first; with skipBad it is skipped there once.
  writeFileSync(bad, Buffer.from('not a picture'));
  throwsOneLine(() => loadImageFolder(root, { split: 'all' }), new RegExp(`^${bad}: not a JPEG or PNG image`));
  const probed = loadImageFolder(root, { split: 'all', skipBad: true, onWarning: (m) => warnings.push(m) });
  assert.equal([probed.count, probed.skipped, probed.height, warnings.length], [11, 1, 10, 2]);
  throwsOneLine(() => loadImageFolder(join(tmp, 'absent')), /image folder not found: no directory .*absent/);
});

test('cacheDir keeps the decoded split for the next load', () => {
  const root = join(tmp, 'cached');
  writeFolder(root);
  let decoded = 0;
  const options = { seed: 1, cacheDir: join(tmp, 'folder-cache'), onProgress: () => { decoded++; } };
  const first = loadImageFolder(root, options);
  const second = loadImageFolder(root, options);
  assert.equal([first.fromCache, second.fromCache, decoded], [false, true, 9]);
  assert.equal(second.images, first.images);
  assert.equal(second.files, first.files);
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));

test.run();
