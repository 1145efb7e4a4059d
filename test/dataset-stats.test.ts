// Per-channel normalisation statistics: exact values on a hand-made set, agreement with a two-pass float64
// computation on a seeded one, and the JSON cache (hit, key isolation, shape guard, damaged file).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { channelStats } from '../datasets/stats.ts';
import { syntheticImages } from '../datasets/synthetic.ts';
import type { LabelledImages } from '../datasets/images.ts';

const tmp = mkdtempSync(join(tmpdir(), 'saln-stats-'));

/** Two 1x2 RGB images: R is 0/255 half and half, G constant 51, B 10, 20, 30, 40. */
const tiny: LabelledImages = {
  images: Uint8Array.from([0, 51, 10, 255, 51, 20, 255, 51, 30, 0, 51, 40]),
  labels: Uint8Array.from([0, 1]), count: 2, height: 1, width: 2, channels: 3, classes: ['a', 'b'],
};

test('exact mean and population std on the 0..1 scale', () => {
  const { mean, std } = channelStats(tiny);
  // The sums are exact integers, so the only rounding is the final division and square root: 1 ulp-ish.
  const close = (got: number, want: number) => assert.ok(Math.abs(got - want) <= 1e-15, `${got} vs ${want}`);
  close(mean[0], 0.5); close(std[0], 0.5);
  close(mean[1], 0.2); assert.is(std[1], 0);
  close(mean[2], 25 / 255); close(std[2], Math.sqrt(125) / 255);
});

test('agrees with a two-pass float64 computation on a seeded set (1 and 3 channels)', () => {
  for (const channels of [1, 3]) {
    const data = syntheticImages({ count: 40, height: 9, width: 7, channels, seed: 5 });
    const { mean, std } = channelStats(data);
    for (let c = 0; c < channels; c++) {
      const values: number[] = [];
      for (let i = c; i < data.images.length; i += channels) values.push(data.images[i] / 255);
      const m = values.reduce((s, v) => s + v, 0) / values.length;
      const sd = Math.sqrt(values.reduce((s, v) => s + (v - m) ** 2, 0) / values.length);
      // The reference's own summation error over 2520 values is ~1e-13 relative; 1e-12 leaves room for it.
      assert.ok(Math.abs(mean[c] - m) <= 1e-12 * m, `mean ${mean[c]} vs ${m}`);
      assert.ok(Math.abs(std[c] - sd) <= 1e-12 * sd, `std ${std[c]} vs ${sd}`);
    }
  }
});

test('the JSON cache: reused by key, other keys kept, recomputed on a shape mismatch or a damaged file', () => {
  const file = join(tmp, 'sub', 'stats.json');
  const computed = channelStats(tiny, { file, key: 'tiny' });
  const stored = JSON.parse(readFileSync(file, 'utf8'));
  assert.equal(stored.tiny.mean, computed.mean);
  assert.equal([stored.tiny.count, stored.tiny.channels], [2, 3]);
  // A planted entry proves the second call reads the file instead of recomputing.
  stored.tiny.mean = [0.1, 0.2, 0.3];
  writeFileSync(file, JSON.stringify(stored));
  assert.equal(channelStats(tiny, { file, key: 'tiny' }).mean, [0.1, 0.2, 0.3]);
  const grey = syntheticImages({ count: 3, height: 2, width: 2, channels: 1 });
  channelStats(grey, { file, key: 'grey' });
  const both = JSON.parse(readFileSync(file, 'utf8'));
  assert.equal(Object.keys(both).sort(), ['grey', 'tiny']);
  // The same key for data of another shape (another limit) is recomputed and replaced.
  const fewer = { ...tiny, count: 1, images: tiny.images.subarray(0, 6), labels: tiny.labels.subarray(0, 1) };
  assert.equal(channelStats(fewer, { file, key: 'tiny' }).mean.map((v) => v * 255), [127.5, 51, 15]);
  writeFileSync(file, '{ not json');
  assert.equal(channelStats(tiny, { file, key: 'tiny' }).std[1], 0);
  assert.equal(Object.keys(JSON.parse(readFileSync(file, 'utf8'))), ['tiny']);
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));

test.run();
