// `saln eval` and `saln predict` as a user runs them, on a model trained in seconds: eval repeats the run's own
// final evaluation from the preprocessing saved in its checkpoint; predict classifies PNG and JPEG files of any
// size and channel count as eval classifies the same images from the data set; a bare weights file works given
// its class count; and each bad input is one line.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, existsSync, mkdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encode as encodePng } from 'fast-png';
import jpeg from 'jpeg-js';
import { syntheticImages } from '../datasets/synthetic.ts';
import { removeTempDirs, saln, tempDir, TINY } from './saln-cli.ts';

// Trained when this file's tests start, not when it is imported: uvu imports every file first, and another file's
// clean-up of the shared temporary directories would delete a model made at import time.
let run = '';
let summary: { finalEval: { accuracy: number; loss: number }; config: { mean: number[]; std: number[] } };
test.before(() => {
  run = tempDir('saln-eval-');
  const trained = saln(['train', ...TINY, '--epochs', '1', '--out', run]);
  if (trained.status !== 0) throw new Error(`training the model for the eval tests failed: ${trained.stderr}`);
  summary = JSON.parse(readFileSync(join(run, 'summary.json'), 'utf8'));
});
// TINY's data: 64 training images, then the test split (the synthetic set draws each sample independently of the count).
const set = syntheticImages({ count: 64 + 32, seed: 7 });
const PIXELS = 16 * 16 * 3;
const testImage = (i: number) => set.images.subarray((64 + i) * PIXELS, (64 + i + 1) * PIXELS);

/** The nearest-neighbour enlargement of an RGB image, with an alpha channel: another size and channel count. */
function enlargedRgba(rgb: Uint8Array, factor: number): Uint8Array {
  const side = 16 * factor, out = new Uint8Array(side * side * 4);
  for (let y = 0; y < side; y++) for (let x = 0; x < side; x++) {
    const from = (Math.floor(y / factor) * 16 + Math.floor(x / factor)) * 3, to = (y * side + x) * 4;
    out.set(rgb.subarray(from, from + 3), to);
    out[to + 3] = 255;
  }
  return out;
}

test('eval repeats the run\'s final test accuracy from the saved preprocessing; per-class counts and the confusion matrix add up', () => {
  const out = tempDir();
  const r = saln(['eval', '--model', run, '--test-limit', '32', '--out', out, '--json']);
  assert.is(r.status, 0, r.stderr);
  const result = JSON.parse(r.stdout);
  assert.is(result.count, 32);
  assert.is(result.accuracy, summary.finalEval.accuracy, 'the same images, preprocessing and weights as the run\'s own evaluation');
  assert.ok(Math.abs(result.loss - summary.finalEval.loss) < 1e-4, `loss ${result.loss} vs the run's ${summary.finalEval.loss}`);
  assert.equal(result.preprocessing.origin, 'run');
  assert.equal(result.preprocessing.imageSize, [16, 16]);
  assert.equal(result.preprocessing.mean, summary.config.mean);
  assert.equal(result.preprocessing.std, summary.config.std);
  const matrix: number[][] = result.confusion.matrix;
  assert.is(matrix.length, 10);
  assert.is(matrix.flat().reduce((a, b) => a + b, 0), 32);
  assert.is(matrix.reduce((a, row, k) => a + row[k], 0), Math.round(result.accuracy * 32));
  result.perClass.forEach((c: { count: number; correct: number; class: string }, k: number) => {
    assert.is(c.count, matrix[k].reduce((a, b) => a + b, 0));
    assert.is(c.correct, matrix[k][k]);
    assert.is(c.class, `class ${k}`);
  });
  const saved = JSON.parse(readFileSync(join(out, 'eval.json'), 'utf8'));
  assert.is(saved.predictions.length, 32);
  for (const picture of ['confusion.svg', 'confusion.png']) assert.ok(existsSync(join(out, picture)), picture);
  assert.equal([...readFileSync(join(out, 'confusion.png')).subarray(1, 4)].map((b) => String.fromCharCode(b)).join(''), 'PNG');
});

test('predict: PNG and JPEG files of any size and channels, a directory walked, agreeing with eval on the same images', () => {
  const evalOut = tempDir();
  assert.is(saln(['eval', '--model', run, '--test-limit', '32', '--out', evalOut]).status, 0);
  const expected: number[] = JSON.parse(readFileSync(join(evalOut, 'eval.json'), 'utf8')).predictions;
  const dir = tempDir();
  mkdirSync(join(dir, 'more'));
  for (let i = 0; i < 6; i++) writeFileSync(join(dir, `test-${i}.png`), encodePng({ width: 16, height: 16, channels: 3, data: testImage(i) }));
  writeFileSync(join(dir, 'more', 'big-rgba.png'), encodePng({ width: 64, height: 64, channels: 4, data: enlargedRgba(testImage(0), 4) }));
  writeFileSync(join(dir, 'more', 'photo.jpg'), jpeg.encode({ width: 48, height: 48, data: enlargedRgba(testImage(1), 3) }, 95).data);
  writeFileSync(join(dir, 'more', 'grey.png'), encodePng({ width: 20, height: 30, channels: 1, data: new Uint8Array(600).fill(128) }));
  writeFileSync(join(dir, 'notes.txt'), 'not an image, and not named like one: skipped by the walk');

  const r = saln(['predict', '--model', run, '--json', '--top', '2', dir]);
  assert.is(r.status, 0, r.stderr);
  const results: { file: string; top: { class: string; index: number; probability: number }[] }[] = JSON.parse(r.stdout);
  assert.equal(results.map((x) => x.file.slice(dir.length + 1)), ['more/big-rgba.png', 'more/grey.png', 'more/photo.jpg', ...Array.from({ length: 6 }, (_, i) => `test-${i}.png`)]);
  for (const { top } of results) {
    assert.is(top.length, 2);
    assert.ok(top[0].probability >= top[1].probability && top[0].probability <= 1 && top[1].probability >= 0);
    assert.is(top[0].class, `class ${top[0].index}`);
  }
  for (let i = 0; i < 6; i++) assert.is(results[3 + i].top[0].index, expected[i], `test image ${i}: predict and eval disagree`);

  const table = saln(['predict', '--model', run, join(dir, 'test-0.png'), join(dir, 'test-1.png')]);
  assert.is(table.status, 0);
  const lines = table.stdout.trim().split('\n');
  assert.is(lines.length, 3);
  assert.match(lines[1], new RegExp(`test-0\\.png\\s+class ${expected[0]} \\d+\\.\\d%`));
});

test('a bare weights file in torchvision layout predicts given its class count; without it, or with another, one line', () => {
  const dir = tempDir();
  const weights = join(dir, 'resnet18-synthetic.safetensors');
  copyFileSync(join(run, 'model.safetensors'), weights);
  const image = join(dir, 'x.png');
  writeFileSync(image, encodePng({ width: 16, height: 16, channels: 3, data: testImage(2) }));

  const missing = saln(['predict', '--model', weights, image]);
  assert.is(missing.status, 1);
  assert.match(missing.stderr.trim(), /^saln: .*resnet18-synthetic\.safetensors has no trainer\.safetensors beside it .*pass --classes N/);
  const wrong = saln(['predict', '--model', weights, '--classes', '7', image]);
  assert.is(wrong.status, 1);
  assert.match(wrong.stderr.trim(), /^saln: .* has 10 output classes \(fc\.weight \[10,\d+\]\), but --classes says 7; pass --classes 10/);
  const wrongRun = saln(['eval', '--model', run, '--classes', '3']);
  assert.is(wrongRun.status, 1);
  assert.match(wrongRun.stderr, /has 10 output classes .* --classes says 3/);

  const names = Array.from({ length: 10 }, (_, k) => `thing-${k}`).join(',');
  const r = saln(['predict', '--model', weights, '--classes', '10', '--class-names', names, '--image-size', '16', '--mean', '0.5,0.5,0.5', '--std', '0.25,0.25,0.25', '--json', image]);
  assert.is(r.status, 0, r.stderr);
  const viaRun = JSON.parse(saln(['predict', '--model', run, '--json', image]).stdout)[0].top[0];
  const bare = JSON.parse(r.stdout)[0].top[0];
  assert.is(bare.index, viaRun.index);
  assert.ok(Math.abs(bare.probability - viaRun.probability) < 1e-6, 'the same weights and preprocessing give the same probabilities');
  assert.is(bare.class, `thing-${bare.index}`);
});

test('a missing or corrupt model, an unreadable image, no images: one line naming the cause, non-zero exit', () => {
  const dir = tempDir();
  const image = join(dir, 'a.png');
  writeFileSync(image, encodePng({ width: 16, height: 16, channels: 3, data: testImage(0) }));
  const oneLine = (r: { status: number | null; stderr: string }, status: number, pattern: RegExp) => {
    assert.is(r.status, status, r.stderr);
    const lines = r.stderr.trim().split('\n').filter((l) => !l.startsWith('usage:') && !/^\s+saln /.test(l));
    assert.is(lines.length, 1, r.stderr);
    assert.match(lines[0], pattern);
  };
  oneLine(saln(['predict', '--model', join(dir, 'nowhere'), image]), 1, /^saln: --model .*nowhere does not exist; pass the --out directory/);
  oneLine(saln(['eval']), 2, /^saln: eval: --model DIR is required/);

  const broken = join(dir, 'broken');
  mkdirSync(broken);
  for (const f of ['model.safetensors', 'trainer.safetensors']) copyFileSync(join(run, f), join(broken, f));
  truncateSync(join(broken, 'model.safetensors'), 5000);
  oneLine(saln(['predict', '--model', broken, image]), 1, /^saln: .*broken\/model\.safetensors: /);

  const fake = join(dir, 'fake.png');
  writeFileSync(fake, 'this is text, not a PNG');
  oneLine(saln(['predict', '--model', run, image, fake]), 1, /^saln: .*fake\.png: not a JPEG or PNG image/);
  const cut = join(dir, 'cut.png');
  writeFileSync(cut, readFileSync(image).subarray(0, 60));
  oneLine(saln(['predict', '--model', run, cut]), 1, /^saln: .*cut\.png: /);
  oneLine(saln(['predict', '--model', run, join(dir, 'broken')]), 2, /^saln: predict: no \.png, \.jpg or \.jpeg files in /);
  oneLine(saln(['eval', '--model', run, '--dataset', 'mnist', '--data-dir', dir]), 1, /^saln: /);
});

test.after(removeTempDirs);
test.run();
