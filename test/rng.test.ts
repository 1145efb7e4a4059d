// The CPU twin of the GPU generator: Philox4x32-10 known-answer vectors from Random123, and the shuffle.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { philox, CpuRandom, uniformArray } from '../src/rng.ts';

const hex = (words: number[]) => words.map((w) => w.toString(16).padStart(8, '0'));

test('philox4x32-10 matches the Random123 known-answer tests', () => {
  assert.equal(hex(philox(0, 0, 0, 0, 0, 0)), ['6627e8d5', 'e169c58d', 'bc57ac4c', '9b00dbd8']);
  const ones = 0xffffffff;
  assert.equal(hex(philox(ones, ones, ones, ones, ones, ones)), ['408f276d', '41c83b0e', 'a20bc7c6', '6d5451fd']);
  assert.equal(hex(philox(0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0)), ['d16cfe09', '94fdcceb', '5001e420', '24126ea1']);
});

test('uniform values lie in [low, high) and depend on seed and stream', () => {
  const a = uniformArray(1000, 5, 0, -2, 3);
  assert.ok(a.every((v) => v >= -2 && v < 3));
  assert.not.equal([...uniformArray(8, 5, 0)], [...uniformArray(8, 6, 0)]);
  assert.not.equal([...uniformArray(8, 5, 0)], [...uniformArray(8, 5, 1)]);
  assert.equal([...uniformArray(8, 5, 1)], [...uniformArray(8, 5, 1)]);
  const mean = a.reduce((s, v) => s + v, 0) / a.length;
  assert.ok(Math.abs(mean - 0.5) < 0.15, `mean ${mean}`);
});

test('permutations are permutations, reproducible, and resumable from a position', () => {
  const r = new CpuRandom(9);
  const p = r.permutation(100);
  assert.equal([...p].sort((x, y) => x - y), Array.from({ length: 100 }, (_, i) => i));
  assert.equal([...new CpuRandom(9).permutation(100)], [...p]);
  const position = r.position;
  const next = r.next();
  const again = new CpuRandom(9);
  again.position = position;
  assert.is(again.next(), next);
});

test.run();
