// The Oxford-IIIT Pet loader on a small folder in the release's layout (images/*.jpg, annotations/*.txt):
// JPEGs from jpeg-js's encoder plus hand-built grey (1-component) and Adobe CMYK (4-component) JPEGs and a
// PNG under a .jpg name, as the real set has; class naming, the decode cache (reuse, rebuild), damage and
// skipBad. Also the resize-and-crop helper on exact cases.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { encode as encodePng } from 'fast-png';
import { loadOxfordPets, parsePetsAnnotations } from '../datasets/oxford-pets.ts';
import { decodeImage, resizeCover, balancedIndices, type Raster } from '../datasets/image.ts';
import { throwsOneLine } from './assertions.ts';

const tmp = mkdtempSync(join(tmpdir(), 'saln-pets-'));

/** An RGB JPEG of a smooth gradient (smooth so that JPEG's error stays a few levels). */
function rgbJpeg(width: number, height: number, colour: [number, number, number]): Buffer {
  const rgba = new Uint8Array(width * height * 4);
  for (let p = 0; p < width * height; p++) rgba.set([...colour, 255], 4 * p);
  return jpeg.encode({ width, height, data: rgba }, 95).data;
}

/**
 * A baseline JPEG whose every 8x8 block is flat, written by hand because jpeg-js only encodes 3-component
 * YCbCr: `levels` holds one sample value per component (1 = grey; 4 = CMYK with an Adobe marker, transform 0).
 * Quantisation is all ones, so a flat block's only coefficient is DC = 8 * (level - 128), and the Huffman
 * tables are minimal: DC categories 0..11 as 4-bit codes, AC only end-of-block as the 1-bit code 0.
 */
function flatJpeg(width: number, height: number, levels: number[]): Buffer {
  const components = levels.length;
  const bytes: number[] = [0xff, 0xd8];
  const segment = (marker: number, body: number[]) => bytes.push(0xff, marker, (body.length + 2) >> 8, (body.length + 2) & 0xff, ...body);
  if (components === 4) segment(0xee, [...Buffer.from('Adobe'), 0, 100, 0, 0, 0, 0, 0]);
  segment(0xdb, [0, ...new Array(64).fill(1)]);
  const frame = [8, height >> 8, height & 0xff, width >> 8, width & 0xff, components];
  for (let c = 1; c <= components; c++) frame.push(c, 0x11, 0);
  segment(0xc0, frame);
  const dcCounts = new Array(16).fill(0);
  dcCounts[3] = 12; // 12 codes of length 4
  segment(0xc4, [0x00, ...dcCounts, ...Array.from({ length: 12 }, (_, k) => k)]);
  const acCounts = new Array(16).fill(0);
  acCounts[0] = 1; // one code of length 1: end of block
  segment(0xc4, [0x10, ...acCounts, 0x00]);
  const scan = [components];
  for (let c = 1; c <= components; c++) scan.push(c, 0x00);
  segment(0xda, [...scan, 0, 63, 0]);
  const bits: number[] = [];
  const put = (value: number, length: number) => { for (let b = length - 1; b >= 0; b--) bits.push((value >> b) & 1); };
  const blocks = Math.ceil(width / 8) * Math.ceil(height / 8);
  for (let block = 0; block < blocks; block++) {
    for (const level of levels) {
      // Differential DC: the first block carries the value, the rest repeat it (difference 0).
      const diff = block === 0 ? 8 * (level - 128) : 0;
      const category = diff === 0 ? 0 : Math.floor(Math.log2(Math.abs(diff))) + 1;
      put(category, 4);
      if (category > 0) put(diff > 0 ? diff : diff + (1 << category) - 1, category);
      put(0, 1);
    }
  }
  while (bits.length % 8) bits.push(1);
  for (let i = 0; i < bits.length; i += 8) {
    const byte = bits.slice(i, i + 8).reduce((acc, bit) => (acc << 1) | bit, 0);
    bytes.push(byte);
    if (byte === 0xff) bytes.push(0x00);
  }
  bytes.push(0xff, 0xd9);
  return Buffer.from(bytes);
}

function pngRgb(width: number, height: number, colour: [number, number, number]): Uint8Array {
  const data = new Uint8Array(width * height * 3);
  for (let p = 0; p < width * height; p++) data.set(colour, 3 * p);
  return encodePng({ width, height, data, channels: 3, depth: 8 });
}

const GREY = 90;
// Adobe CMYK JPEGs store inverted inks; (255, 55, 255, 255) is magenta ink only, which jpeg-js renders (255, 55, 255).
const CMYK_RAW = [255, 55, 255, 255];
const CMYK_RGB = [255, 55, 255];

/** images/ and annotations/ as the two release tarballs extract, under <parent>/oxford-iiit-pet (torchvision's layout). */
function writePets(parent: string): string {
  const root = join(parent, 'oxford-iiit-pet');
  mkdirSync(join(root, 'images'), { recursive: true });
  mkdirSync(join(root, 'annotations'), { recursive: true });
  const images: Record<string, Uint8Array> = {
    Abyssinian_1: rgbJpeg(40, 30, [200, 120, 40]),
    Abyssinian_2: flatJpeg(24, 40, [GREY]),
    american_bulldog_10: rgbJpeg(30, 50, [30, 160, 220]),
    Bengal_5: flatJpeg(16, 24, CMYK_RAW),
    // PNG data under a .jpg name, as a few real Pet images are.
    american_bulldog_11: pngRgb(20, 16, [10, 250, 70]),
    Bengal_6: rgbJpeg(33, 21, [128, 128, 128]),
    Abyssinian_3: rgbJpeg(17, 19, [60, 60, 200]),
  };
  for (const [name, bytes] of Object.entries(images)) writeFileSync(join(root, 'images', `${name}.jpg`), bytes);
  const header = '#Image CLASS-ID SPECIES BREED ID\n#ID: 1:37 Class ids\n';
  writeFileSync(join(root, 'annotations', 'trainval.txt'), `${header}Abyssinian_1 1 1 1\nAbyssinian_2 1 1 1\namerican_bulldog_10 2 2 1\nBengal_5 3 1 2\n`);
  writeFileSync(join(root, 'annotations', 'test.txt'), `${header}Abyssinian_3 1 1 1\namerican_bulldog_11 2 2 1\r\nBengal_6 3 1 2\n\n`);
  return root;
}

/** Every pixel of sample n within `tolerance` of `rgb`. */
function assertFlat(images: Uint8Array, n: number, size: number, rgb: number[], tolerance: number, what: string): void {
  for (let p = 0; p < size * size; p++) {
    for (let c = 0; c < 3; c++) {
      const got = images[(n * size * size + p) * 3 + c];
      if (Math.abs(got - rgb[c]) > tolerance) assert.unreachable(`${what}: pixel ${p} channel ${c} is ${got}, expected ${rgb[c]} ± ${tolerance}`);
    }
  }
}

test('resizeCover: crop is exact at scale 1, enlarging is bilinear, flat stays flat when shrinking', () => {
  const wide: Raster = { width: 30, height: 10, channels: 1, data: Uint8Array.from({ length: 300 }, (_, i) => i % 251) };
  const cropped = resizeCover(wide, 10, 10);
  for (let y = 0; y < 10; y++) for (let x = 0; x < 10; x++) assert.is(cropped.data[y * 10 + x], wide.data[y * 30 + x + 10]);
  // Source pixels 0 and 100 at centers 0.5 and 1.5; doubled, the output centers 0.25..1.75 interpolate
  // linearly and clamp at the borders.
  const ramp = resizeCover({ width: 2, height: 1, channels: 1, data: Uint8Array.from([0, 100]) }, 2, 4);
  assert.equal([...ramp.data.subarray(0, 4)], [0, 25, 75, 100]);
  const flat = resizeCover({ width: 97, height: 61, channels: 3, data: new Uint8Array(97 * 61 * 3).fill(77) }, 7, 7);
  assert.ok(flat.data.every((v) => v === 77));
  assert.equal([flat.width, flat.height, flat.channels], [7, 7, 3]);
  // Shrinking averages a footprint: alternating columns 0/200 become a mid grey, not one of the two (away
  // from the borders, where the cut-off footprint holds unequal shares of the two).
  const stripes = resizeCover({ width: 64, height: 64, channels: 1, data: Uint8Array.from({ length: 64 * 64 }, (_, i) => (i % 2 ? 200 : 0)) }, 8, 8);
  for (let x = 1; x < 7; x++) assert.ok(Math.abs(stripes.data[3 * 8 + x] - 100) <= 1, `stripes averaged: ${[...stripes.data.subarray(24, 32)]}`);
  assert.equal(balancedIndices([0, 0, 0, 1, 1, 2], 4), [0, 1, 3, 5]);
});

test('decodeImage: grey and Adobe CMYK JPEGs and PNG data all come out RGB', () => {
  const grey = decodeImage(flatJpeg(12, 9, [GREY]), 'grey.jpg');
  assert.equal([grey.width, grey.height, grey.channels, grey.data.length], [12, 9, 3, 12 * 9 * 3]);
  assert.ok(grey.data.every((v) => Math.abs(v - GREY) <= 1));
  const cmyk = decodeImage(flatJpeg(8, 8, CMYK_RAW), 'cmyk.jpg');
  assert.is(cmyk.channels, 3);
  assert.equal([...cmyk.data.subarray(0, 3)].map((v, c) => Math.abs(v - CMYK_RGB[c]) <= 1), [true, true, true]);
  const png = decodeImage(pngRgb(3, 2, [1, 2, 3]), 'x.jpg');
  assert.equal([...png.data], [1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3]);
  // 16-bit grey + alpha: the high byte of grey, alpha dropped.
  const deep = decodeImage(encodePng({ width: 2, height: 1, data: Uint16Array.from([0x1234, 0xffff, 0xab00, 0]), channels: 2, depth: 16 }), 'deep.png');
  assert.equal([...deep.data], [0x12, 0x12, 0x12, 0xab, 0xab, 0xab]);
  throwsOneLine(() => decodeImage(Buffer.from('GIF89a....'), 'a.jpg'), /^a.jpg: not a JPEG or PNG image \(starts with 47 49 46 38\)/);
});

test('loads a split: decode, resize, crop, RGB, class names by id, progress; the parent folder works too', () => {
  const parent = join(tmp, 'load');
  writePets(parent);
  const progress: [number, number][] = [];
  const pets = loadOxfordPets(parent, 'trainval', { imageSize: 16, onProgress: (done, total) => progress.push([done, total]) });
  assert.equal([pets.count, pets.height, pets.width, pets.channels], [4, 16, 16, 3]);
  assert.is(pets.images.length, 4 * 16 * 16 * 3);
  assert.equal(pets.classes, ['Abyssinian', 'american_bulldog', 'Bengal']);
  assert.equal([...pets.labels], [0, 0, 1, 2]);
  assert.equal(progress, [[1, 4], [2, 4], [3, 4], [4, 4]]);
  assert.is(pets.fromCache, false);
  assert.is(pets.skipped, 0);
  // JPEG at quality 95 on a flat colour stays within a few levels; resampling a flat image adds nothing.
  assertFlat(pets.images, 0, 16, [200, 120, 40], 4, 'RGB JPEG');
  assertFlat(pets.images, 1, 16, [GREY, GREY, GREY], 1, 'grey JPEG');
  assertFlat(pets.images, 3, 16, CMYK_RGB, 1, 'CMYK JPEG');
  const testSplit = loadOxfordPets(join(parent, 'oxford-iiit-pet'), 'test', { imageSize: 16 });
  assert.equal([...testSplit.labels], [0, 1, 2]);
  assert.equal(testSplit.classes, pets.classes);
  assertFlat(testSplit.images, 1, 16, [10, 250, 70], 0, 'PNG named .jpg');
});

test('the decode cache: reused without decoding, rebuilt when the size or a file changes, serves limited loads', () => {
  const parent = join(tmp, 'cache');
  const root = writePets(parent);
  let decoded = 0;
  const onProgress = () => { decoded++; };
  const first = loadOxfordPets(parent, 'trainval', { imageSize: 12, onProgress });
  assert.is(decoded, 4);
  assert.ok(existsSync(join(root, '.saln-cache', 'pets-trainval-12.bin')));
  const second = loadOxfordPets(parent, 'trainval', { imageSize: 12, onProgress });
  assert.is(decoded, 4, 'second load decodes nothing');
  assert.is(second.fromCache, true);
  assert.equal(second.images, first.images);
  assert.equal(second.labels, first.labels);
  assert.equal(second.classes, first.classes);
  // A limited load is served from the full cache, one sample per breed first.
  const limited = loadOxfordPets(parent, 'trainval', { imageSize: 12, limit: 3, onProgress });
  assert.is(decoded, 4);
  assert.equal([...limited.labels], [0, 1, 2]);
  assert.equal(limited.images, Uint8Array.from([...first.images.subarray(0, 432), ...first.images.subarray(864)]));
  const bigger = loadOxfordPets(parent, 'trainval', { imageSize: 20, onProgress });
  assert.is(decoded, 8, 'another size decodes again');
  assert.is(bigger.height, 20);
  assert.ok(existsSync(join(root, '.saln-cache', 'pets-trainval-20.bin')));
  const later = new Date(Date.now() + 5000);
  utimesSync(join(root, 'images', 'Bengal_5.jpg'), later, later);
  assert.is(loadOxfordPets(parent, 'trainval', { imageSize: 12, onProgress }).fromCache, false);
  assert.is(decoded, 12, 'a changed source file rebuilds');
  loadOxfordPets(parent, 'trainval', { imageSize: 12, onProgress, cacheDir: false });
  assert.is(decoded, 16, 'cacheDir false always decodes');
  const cacheFile = join(root, '.saln-cache', 'pets-trainval-12.bin');
  writeFileSync(cacheFile, readFileSync(cacheFile).subarray(0, 500));
  const repaired = loadOxfordPets(parent, 'trainval', { imageSize: 12, onProgress });
  assert.equal([repaired.fromCache, decoded], [false, 20], 'a damaged cache is rebuilt');
  assert.equal(repaired.images, first.images);
  assert.is(loadOxfordPets(parent, 'trainval', { imageSize: 12, onProgress }).fromCache, true);
});

test('a corrupt image fails naming the file, or is skipped and counted with skipBad', () => {
  const parent = join(tmp, 'corrupt');
  const root = writePets(parent);
  const bad = join(root, 'images', 'american_bulldog_11.jpg');
  writeFileSync(bad, rgbJpeg(20, 20, [1, 2, 3]).subarray(0, 100));
  throwsOneLine(() => loadOxfordPets(parent, 'test', { imageSize: 8 }), new RegExp(`^${bad}: cannot decode JPEG \\(`));
  const warnings: string[] = [];
  const skipping = loadOxfordPets(parent, 'test', { imageSize: 8, skipBad: true, onWarning: (message) => warnings.push(message) });
  assert.is(skipping.count, 2);
  assert.is(skipping.skipped, 1);
  assert.equal([...skipping.labels], [0, 2]);
  assert.is(warnings.length, 1);
  assert.match(warnings[0], new RegExp(`^skipped ${bad}: cannot decode JPEG`));
  // The cache written with a skip still fails a load without skipBad, and warns again with it.
  throwsOneLine(() => loadOxfordPets(parent, 'test', { imageSize: 8 }), new RegExp(`^${bad}: cannot decode JPEG`));
  const again = loadOxfordPets(parent, 'test', { imageSize: 8, skipBad: true, onWarning: (message) => warnings.push(message) });
  assert.equal([again.fromCache, again.skipped, warnings.length], [true, 1, 2]);
  writeFileSync(bad, pngRgb(4, 4, [0, 0, 0]));
  rmSync(join(root, 'images', 'Bengal_6.jpg'));
  throwsOneLine(() => loadOxfordPets(parent, 'test', { imageSize: 8, cacheDir: false }), /Bengal_6.jpg: cannot read \(ENOENT\)/);
});

test('annotation lists: comments skipped, ids checked, breeds consistent, missing data reported', () => {
  assert.equal(parsePetsAnnotations('# c\nAbyssinian_100 1 1 1\n\n', 'a.txt'), [{ name: 'Abyssinian_100', classId: 1, line: 2 }]);
  throwsOneLine(() => parsePetsAnnotations('x_1 38 1 1', 'a.txt'), /^a.txt:1: class id 38 is out of range 1..37/);
  throwsOneLine(() => parsePetsAnnotations('#\nx_1 one 1 1', 'a.txt'), /^a.txt:2: expected 'Image CLASS-ID SPECIES BREED-ID', got 'x_1 one 1 1'/);
  const parent = join(tmp, 'lists');
  const root = writePets(parent);
  writeFileSync(join(root, 'annotations', 'test.txt'), 'Bengal_6 1 1 2\n');
  throwsOneLine(() => loadOxfordPets(parent, 'trainval', { imageSize: 8 }), /test.txt:1: image Bengal_6 has class id 1, which other images give to breed 'Abyssinian'/);
  throwsOneLine(() => loadOxfordPets(join(tmp, 'none'), 'test'), /Oxford-IIIT Pet not found: no directory .*none; run 'saln data download oxford-pets'/);
  throwsOneLine(() => loadOxfordPets(tmp, 'test'), /Oxford-IIIT Pet not found: looked for .*annotations\/test.txt and .*oxford-iiit-pet\/annotations\/test.txt/);
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));

test.run();
