// Study conditions: each perturbation touches exactly the promised number of samples, its flags mark exactly
// the samples that changed, the same seed replays it, and the input is never written. Expected counts and
// ratios are computed from the definitions (round(F*N), n_max * R^(-c/(C-1))), not from the code under test.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  applyCondition, ConditionError, CORRUPT_BLOCK, CORRUPT_NOISE, DUPLICATE_MAX_BRIGHTNESS, DUPLICATE_MAX_SHIFT, formatCondition,
  imbalanceTargets, parseCondition, selectClasses, transferSplit,
} from '../datasets/conditions.ts';
import type { LabelledImages } from '../datasets/images.ts';
import { syntheticImages } from '../datasets/synthetic.ts';

// Noise 20 around templates in 40..215: pixels stay in 20..235, so a brightness offset of +-12 never clips and
// a copy is exactly "source shifted, plus a constant".
const data = () => syntheticImages({ count: 1000, classes: 10, height: 12, width: 10, channels: 3, noise: 20, seed: 5 });
const pixelsOf = (d: LabelledImages) => d.height * d.width * d.channels;
const image = (d: LabelledImages, i: number) => d.images.subarray(i * pixelsOf(d), (i + 1) * pixelsOf(d));
const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((v, i) => v === b[i]);
const sum = (flags: Uint8Array) => flags.reduce((s, v) => s + v, 0);

function snapshot(d: LabelledImages) {
  return { images: d.images.slice(), labels: d.labels.slice(), count: d.count };
}
function untouched(d: LabelledImages, before: ReturnType<typeof snapshot>) {
  assert.ok(sameBytes(d.images, before.images), 'input pixels were modified');
  assert.ok(sameBytes(d.labels, before.labels), 'input labels were modified');
  assert.is(d.count, before.count);
}

test('parseCondition reads every condition and formatCondition reads back', () => {
  assert.equal(parseCondition('clean'), { kind: 'clean' });
  assert.equal(parseCondition(' Transfer '), { kind: 'transfer' });
  assert.equal(parseCondition('noise:0.2'), { kind: 'noise', fraction: 0.2 });
  assert.equal(parseCondition('noise:1'), { kind: 'noise', fraction: 1 });
  assert.equal(parseCondition('duplicates:.5'), { kind: 'duplicates', fraction: 0.5 });
  assert.equal(parseCondition('duplicates:0.5:300'), { kind: 'duplicates', fraction: 0.5, sources: 300 });
  assert.equal(parseCondition('imbalance:10'), { kind: 'imbalance', ratio: 10 });
  assert.equal(parseCondition('imbalance:1'), { kind: 'imbalance', ratio: 1 });
  assert.equal(parseCondition('corrupt:0.3'), { kind: 'corrupt', fraction: 0.3 });
  for (const text of ['clean', 'transfer', 'noise:0.2', 'duplicates:0.5', 'duplicates:0.5:300', 'imbalance:10', 'corrupt:0.3']) {
    assert.is(formatCondition(parseCondition(text)), text);
  }
});

test('bad condition text: one-line errors naming the cause and what is accepted', () => {
  const cases: [string, RegExp][] = [
    ['noise:1.5', /noise fraction P must be in \[0, 1\], got 1\.5/],
    ['noise:-0.1', /must be in \[0, 1\]/],
    ['noise', /noise needs a value/],
    ['noise:abc', /must be a number, got "abc"/],
    ['noise:0x1', /must be a number/],
    ['imbalance:0.5', /imbalance ratio R .* must be >= 1, got 0\.5/],
    ['duplicates:1', /must be in \[0, 1\), got 1/],
    ['duplicates:0.2:0', /number of sources S must be a positive integer/],
    ['duplicates:0.2:1.5', /number of sources S must be a positive integer/],
    ['corrupt:2', /corrupted fraction F must be in \[0, 1\]/],
    ['clean:0.3', /clean takes no value/],
    ['blur:0.3', /unknown condition "blur"/],
    ['', /empty/],
  ];
  for (const [text, pattern] of cases) {
    try {
      parseCondition(text);
      assert.unreachable(`"${text}" was accepted`);
    } catch (e) {
      assert.instance(e, ConditionError, text);
      const message = (e as Error).message;
      assert.not.ok(message.includes('\n'), `multi-line: ${message}`);
      assert.match(message, pattern);
      assert.match(message, /accepted: clean, noise:P .* imbalance:R .* transfer/);
    }
  }
  // Bad seeds and bad data are one line too, naming the condition.
  assert.throws(() => applyCondition(data(), 'noise:0.1', -1), /condition noise:0\.1: the seed must be a non-negative integer/);
  const bad = { ...data(), labels: new Uint8Array(1000).fill(10) };
  assert.throws(() => applyCondition(bad, 'clean', 0), /label 10 at index 0 is out of range for 10 classes/);
});

test('clean and transfer: the data unchanged, no flags', () => {
  const d = data();
  for (const name of ['clean', 'transfer']) {
    const result = applyCondition(d, name, 3);
    assert.ok(sameBytes(result.images.images, d.images) && sameBytes(result.images.labels, d.labels));
    assert.is(result.images.count, d.count);
    assert.equal(result.flags, {});
    assert.match(result.description, new RegExp(`^${name}`));
  }
});

test('noise:P: exactly round(P*N) labels changed, each to another class, flags exactly those', () => {
  const d = data();
  const before = snapshot(d);
  for (const [fraction, expected] of [[0.2, 200], [0.3333, 333], [0.0005, 1], [0, 0], [1, 1000]] as const) {
    const result = applyCondition(d, { kind: 'noise', fraction }, 7);
    const noisy = result.flags.noisy!;
    assert.is(sum(noisy), expected, `noise:${fraction}`);
    for (let i = 0; i < d.count; i++) {
      const changed = result.images.labels[i] !== d.labels[i];
      assert.is(changed, noisy[i] === 1, `sample ${i}: label changed ${changed}, flag ${noisy[i]}`);
      assert.ok(result.images.labels[i] < 10);
    }
    // Labels only: the pixels are the input's.
    assert.ok(sameBytes(result.images.images, d.images));
    assert.match(result.description, new RegExp(`${expected} of 1000 labels`));
  }
  untouched(d, before);
});

test('noise:P draws the new label uniformly from the other classes', () => {
  // 3 classes, every sample noisy: from class 0 the new label is 1 or 2, each about half of the time.
  const d = syntheticImages({ count: 3000, classes: 3, height: 2, width: 2, channels: 1, seed: 1 });
  const result = applyCondition(d, 'noise:1', 11);
  const moves = new Map<string, number>();
  for (let i = 0; i < d.count; i++) moves.set(`${d.labels[i]}->${result.images.labels[i]}`, (moves.get(`${d.labels[i]}->${result.images.labels[i]}`) ?? 0) + 1);
  assert.equal([...moves.keys()].sort(), ['0->1', '0->2', '1->0', '1->2', '2->0', '2->1']);
  // 1000 draws per class, binomial sd 15.8: 500 +- 80 is five sd.
  for (const [move, n] of moves) assert.ok(Math.abs(n - 500) < 80, `${move}: ${n} of 1000`);
});

test('same seed, same result; another seed, another one', () => {
  const d = data();
  for (const text of ['noise:0.3', 'duplicates:0.3', 'imbalance:10', 'corrupt:0.3']) {
    const a = applyCondition(d, text, 42), b = applyCondition(d, text, 42), c = applyCondition(d, text, 43);
    assert.ok(sameBytes(a.images.images, b.images.images) && sameBytes(a.images.labels, b.images.labels), text);
    assert.equal(a.flags, b.flags, text);
    assert.is(a.description, b.description);
    assert.not.ok(sameBytes(a.images.images, c.images.images) && sameBytes(a.images.labels, c.images.labels), `${text}: seed ignored`);
  }
});

test('duplicates:F: exactly round(F*N) near-copies of at most 200 sources, which stay in the set', () => {
  const d = syntheticImages({ count: 2000, classes: 10, height: 12, width: 10, channels: 3, noise: 20, seed: 5 });
  const before = snapshot(d);
  const result = applyCondition(d, 'duplicates:0.4', 9);
  const out = result.images;
  const duplicate = result.flags.duplicate!, source = result.duplicateSource!;
  assert.is(sum(duplicate), 800);
  assert.is(out.count, 2000);
  const sources = new Set<number>();
  const shifts = new Set<string>();
  const { height, width, channels } = d;
  for (let i = 0; i < d.count; i++) {
    if (!duplicate[i]) {
      assert.is(source[i], -1);
      assert.ok(sameBytes(image(out, i), image(d, i)), `sample ${i} is not flagged but changed`);
      assert.is(out.labels[i], d.labels[i]);
      continue;
    }
    const s = source[i];
    sources.add(s);
    // The source is an untouched sample of the result, and the copy carries its label.
    assert.is(duplicate[s], 0, `source ${s} was itself overwritten`);
    assert.is(out.labels[i], d.labels[s]);
    assert.not.ok(sameBytes(image(out, i), image(d, s)), `copy ${i} is a bare replica`);
    // Some shift in [-2, 2]^2 and one constant offset in [-12, 12] explain every pixel (edges replicated).
    const copy = image(out, i), original = image(d, s);
    let explained = false;
    for (let dy = -DUPLICATE_MAX_SHIFT; dy <= DUPLICATE_MAX_SHIFT && !explained; dy++) {
      for (let dx = -DUPLICATE_MAX_SHIFT; dx <= DUPLICATE_MAX_SHIFT && !explained; dx++) {
        const offset = copy[0] - original[(Math.min(height - 1, Math.max(0, -dy)) * width + Math.min(width - 1, Math.max(0, -dx))) * channels];
        if (Math.abs(offset) > DUPLICATE_MAX_BRIGHTNESS) continue;
        let all = true;
        for (let y = 0; y < height && all; y++) {
          for (let x = 0; x < width && all; x++) {
            const sy = Math.min(height - 1, Math.max(0, y - dy)), sx = Math.min(width - 1, Math.max(0, x - dx));
            for (let c = 0; c < channels; c++) if (copy[(y * width + x) * channels + c] !== original[(sy * width + sx) * channels + c] + offset) all = false;
          }
        }
        if (all) {
          explained = true;
          shifts.add(`${dy},${dx}`);
        }
      }
    }
    assert.ok(explained, `copy ${i} is not a shifted, brightened copy of ${s}`);
  }
  // 800 copies round-robin over 200 sources: all 200 used, 4 copies each.
  assert.is(sources.size, 200);
  const perSource = new Map<number, number>();
  for (let i = 0; i < d.count; i++) if (duplicate[i]) perSource.set(source[i], (perSource.get(source[i]) ?? 0) + 1);
  assert.equal(new Set(perSource.values()), new Set([4]));
  // The shifts vary (24 are possible); no copy is unshifted-and-unbrightened, checked above.
  assert.ok(shifts.size >= 15, `only ${shifts.size} distinct shifts`);
  assert.match(result.description, /800 of 2000 samples .* copies of 200 source images/);
  untouched(d, before);
});

test('duplicates: fewer sources when asked or when the set is small; none left is an error', () => {
  const d = data();
  const few = applyCondition(d, 'duplicates:0.5:7', 1);
  assert.is(new Set(Array.from(few.duplicateSource!).filter((s) => s >= 0)).size, 7);
  assert.is(sum(few.flags.duplicate!), 500);
  // 10 samples, 9 copies: a single source remains.
  const small = syntheticImages({ count: 10, classes: 2, height: 4, width: 4, channels: 1, seed: 2 });
  const one = applyCondition(small, 'duplicates:0.9', 1);
  assert.is(new Set(Array.from(one.duplicateSource!).filter((s) => s >= 0)).size, 1);
  assert.is(sum(one.flags.duplicate!), 9);
  const single = syntheticImages({ count: 1, classes: 2, height: 4, width: 4, channels: 1, seed: 2 });
  assert.throws(() => applyCondition(single, 'duplicates:0.6', 1), /1 copies of 1 samples leave no source image to copy/);
});

test('imbalance:R: class c keeps n_max * R^(-c/(C-1)) within rounding, a random subset in input order', () => {
  const d = data(); // 100 per class
  const before = snapshot(d);
  for (const ratio of [10, 100, 1]) {
    const result = applyCondition(d, { kind: 'imbalance', ratio }, 4);
    const counts = new Array(10).fill(0);
    for (const label of result.images.labels) counts[label]++;
    for (let c = 0; c < 10; c++) {
      const exact = 100 * ratio ** (-c / 9);
      assert.ok(Math.abs(counts[c] - Math.max(1, exact)) <= 0.5 + 1e-9, `R=${ratio} class ${c}: ${counts[c]} for ${exact}`);
    }
    assert.is(counts[0], 100);
    assert.is(counts[9], Math.round(100 / ratio));
    const { indices } = result;
    assert.is(indices!.length, result.images.count);
    for (let k = 0; k < indices!.length; k++) {
      if (k) assert.ok(indices![k] > indices![k - 1], 'kept samples out of input order');
      assert.ok(sameBytes(image(result.images, k), image(d, indices![k])));
      assert.is(result.images.labels[k], d.labels[indices![k]]);
    }
    assert.equal(result.flags, {});
  }
  // Not the first samples of each class: synthetic labels cycle, so the first 10 of class 9 would be indices
  // 9..99, while 10 drawn from its 100 (9..999) all land under 200 with chance below 1e-7.
  const tail = applyCondition(d, 'imbalance:10', 4).indices!.filter((i) => d.labels[i] === 9);
  assert.is(tail.length, 10);
  assert.ok(Math.max(...tail) > 200, 'imbalance kept the first samples of a class rather than a random subset');
  untouched(d, before);
});

test('imbalanceTargets: unequal classes limit the head; empty classes stay empty', () => {
  // Class 1 (factor 1/2 at R=4 over 3 classes) has 20: the head is 40, not 100.
  assert.equal(imbalanceTargets([100, 20, 100], 4), [40, 20, 10]);
  assert.equal(imbalanceTargets([50, 0, 50], 4), [50, 0, 13]);
  assert.equal(imbalanceTargets([7], 10), [7]);
  // A huge ratio still keeps one sample of the rarest class.
  assert.equal(imbalanceTargets([10, 10], 1e6), [10, 1]);
});

test('corrupt:F: exactly round(F*N) inputs destroyed, half noise and half block, labels kept', () => {
  const d = data();
  const before = snapshot(d);
  const result = applyCondition(d, 'corrupt:0.25', 8);
  const flags = result.flags.corrupt!, kind = result.corruption!;
  assert.is(sum(flags), 250);
  assert.is(kind.filter((k) => k === CORRUPT_NOISE).length, 125);
  assert.is(kind.filter((k) => k === CORRUPT_BLOCK).length, 125);
  assert.ok(sameBytes(result.images.labels, d.labels));
  const { height, width, channels } = d;
  const blockH = Math.round(0.75 * height), blockW = Math.round(0.75 * width);
  for (let i = 0; i < d.count; i++) {
    assert.is(flags[i] === 1, kind[i] !== 0);
    const got = image(result.images, i), was = image(d, i);
    if (!flags[i]) {
      assert.ok(sameBytes(got, was), `sample ${i} is not flagged but changed`);
    } else if (kind[i] === CORRUPT_NOISE) {
      // Uniform bytes: almost every pixel differs from the input, and the range spans nearly 0..255.
      const differ = got.filter((v, p) => v !== was[p]).length;
      assert.ok(differ > 0.95 * got.length, `noise sample ${i}: only ${differ} bytes changed`);
      assert.ok(Math.min(...got) < 20 && Math.max(...got) > 235, `noise sample ${i} does not span 0..255`);
    } else {
      // A 9x8 block of one grey level somewhere inside, everything outside it untouched.
      const changed = new Set<number>();
      got.forEach((v, p) => { if (v !== was[p]) changed.add(p); });
      let found = false;
      for (let top = 0; top + blockH <= height && !found; top++) {
        for (let left = 0; left + blockW <= width && !found; left++) {
          const level = got[(top * width + left) * channels];
          let inside = true;
          for (let y = 0; y < height && inside; y++) {
            for (let x = 0; x < width && inside; x++) {
              const inBlock = y >= top && y < top + blockH && x >= left && x < left + blockW;
              for (let c = 0; c < channels; c++) {
                const p = (y * width + x) * channels + c;
                if (inBlock ? got[p] !== level : got[p] !== was[p]) inside = false;
              }
            }
          }
          found = inside;
        }
      }
      assert.ok(found, `block sample ${i}: no ${blockH}x${blockW} uniform block explains the change`);
    }
  }
  // An odd count: the extra one is noise.
  const odd = applyCondition(d, 'corrupt:0.003', 8).corruption!;
  assert.is(odd.filter((k) => k === CORRUPT_NOISE).length, 2);
  assert.is(odd.filter((k) => k === CORRUPT_BLOCK).length, 1);
  untouched(d, before);
});

test('loader extras (per-sample file names) do not follow into the result', () => {
  const d = { ...data(), files: Array.from({ length: 1000 }, (_, i) => `${i}.png`) };
  const result = applyCondition(d, 'imbalance:10', 1);
  assert.not.ok('files' in result.images);
  assert.equal(Object.keys(result.images).sort(), ['channels', 'classes', 'count', 'height', 'images', 'labels', 'width']);
});

test('transferSplit: two disjoint halves covering every class; selectClasses keeps and relabels', () => {
  assert.equal(transferSplit(10), { reference: [0, 1, 2, 3, 4], learner: [5, 6, 7, 8, 9] });
  assert.equal(transferSplit(5), { reference: [0, 1], learner: [2, 3, 4] });
  const seeded = transferSplit(10, 3);
  assert.equal(transferSplit(10, 3), seeded);
  assert.equal([...seeded.reference, ...seeded.learner].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.is(seeded.reference.length, 5);
  assert.not.equal(seeded, transferSplit(10));
  assert.throws(() => transferSplit(1), /needs at least 2 classes/);

  const d = data();
  const { images, indices } = selectClasses(d, [7, 2], { relabel: true });
  assert.is(images.count, 200);
  assert.equal(images.classes, ['class 7', 'class 2']);
  for (let k = 0; k < images.count; k++) {
    const original = d.labels[indices[k]];
    assert.ok(original === 7 || original === 2);
    assert.is(images.labels[k], original === 7 ? 0 : 1);
    assert.ok(sameBytes(image(images, k), image(d, indices[k])));
  }
  const kept = selectClasses(d, [3]);
  assert.ok(kept.images.labels.every((l) => l === 3));
  assert.is(kept.images.classes.length, 10);
  assert.throws(() => selectClasses(d, [10]), /class 10 is out of range for 10 classes/);
  assert.throws(() => selectClasses(d, [1, 1]), /class 1 is listed twice/);
});

test.run();
