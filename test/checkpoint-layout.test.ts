// The checkpoint's conv-weight layout pinned from outside the code: a round trip cannot see a layout that the
// writer and the reader get wrong alike, so the file is read byte by byte (safetensors parsed by hand here) and a
// file written by hand in PyTorch's OIHW is loaded and run through a conv against a loop written on OIHW indices.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getRuntime } from '../src/gpu/runtime.ts';
import { Tensor } from '../src/tensor.ts';
import { uniformArray } from '../src/rng.ts';
import { createResNet18 } from '../src/nn/resnet.ts';
import { conv2d } from '../src/ops/conv.ts';
import { applyModelTensors, MODEL_FILE, saveCheckpoint } from '../src/train/checkpoint.ts';
import { readSafetensors } from '../src/train/safetensors.ts';

const rt = await getRuntime();
const dir = mkdtempSync(join(tmpdir(), 'saln-layout-'));
const MODEL = { stem: 'cifar' as const, width: 1 / 16, inChannels: 3, classes: 10 };

/** The safetensors header as the format defines it: u64 LE length, then that many bytes of JSON. */
function parseHeader(bytes: Buffer): { header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>; dataStart: number } {
  const length = Number(bytes.readBigUInt64LE(0));
  return { header: JSON.parse(bytes.subarray(8, 8 + length).toString('utf8')), dataStart: 8 + length };
}

test('model.safetensors holds a conv weight element at its OIHW byte offset', async () => {
  const { store } = createResNet18(rt, MODEL, 4);
  const name = 'layer1.0.conv1.weight';
  const [O, KH, KW, I] = store.specs.find((s) => s.name === name)!.shape;
  const ohwi = (await store.download()).get(name)!.data.slice();
  // One element with a value no initialiser produces, away from every symmetric position (o != i, h != w).
  const [o, i, h, w] = [2, 1, 0, 2];
  ohwi[((o * KH + h) * KW + w) * I + i] = 1234.5;
  store.upload(name, ohwi);
  await saveCheckpoint(dir, store, new Map(), { step: 1, epoch: 0, batchInEpoch: 0, extra: {} });
  store.dispose();

  const bytes = readFileSync(join(dir, MODEL_FILE));
  const { header, dataStart } = parseHeader(bytes);
  const entry = header[name];
  assert.equal(entry.shape, [O, I, KH, KW], 'PyTorch shape [out, in, kh, kw]');
  assert.is(entry.dtype, 'F32');
  const at = (oo: number, ii: number, hh: number, ww: number) => dataStart + entry.data_offsets[0] + 4 * (((oo * I + ii) * KH + hh) * KW + ww);
  assert.is(bytes.readFloatLE(at(o, i, h, w)), 1234.5, 'the planted element at its OIHW offset');
  // Every element of the tensor, by the same index arithmetic.
  for (let oo = 0; oo < O; oo++) for (let ii = 0; ii < I; ii++) for (let hh = 0; hh < KH; hh++) for (let ww = 0; ww < KW; ww++) {
    assert.is(bytes.readFloatLE(at(oo, ii, hh, ww)), ohwi[((oo * KH + hh) * KW + ww) * I + ii], `[${oo},${ii},${hh},${ww}]`);
  }
});

/** A safetensors file written by hand: header padded with spaces to 8 bytes, f32 little-endian data. */
function writeByHand(path: string, tensors: [string, number[], Float32Array][]): void {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const [name, shape, data] of tensors) {
    header[name] = { dtype: 'F32', shape, data_offsets: [offset, offset + 4 * data.length] };
    offset += 4 * data.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  const data = Buffer.alloc(offset);
  let at = 0;
  for (const [, , values] of tensors) for (const v of values) { data.writeFloatLE(v, at); at += 4; }
  writeFileSync(path, Buffer.concat([length, Buffer.from(json, 'utf8'), data]));
}

test('a hand-written OIHW file loads into the model and its stem conv computes the OIHW convolution', async () => {
  const { store } = createResNet18(rt, MODEL, 5);
  // Every tensor the model declares, in PyTorch's shapes; small integers, so the conv below is exact in f32.
  const tensors: [string, number[], Float32Array][] = store.specs.map((spec, k) => {
    const shape = spec.shape.length === 4 ? [spec.shape[0], spec.shape[3], spec.shape[1], spec.shape[2]] : spec.shape;
    const n = shape.reduce((p, d) => p * d, 1);
    return [spec.name, shape, Float32Array.from(uniformArray(n, 77, k, -3, 3), Math.round)];
  });
  const path = join(dir, 'by-hand.safetensors');
  writeByHand(path, tensors);
  applyModelTensors(store, readSafetensors(path).tensors, { strict: true, source: path });

  const [, shape, weight] = tensors.find(([name]) => name === 'conv1.weight')!;
  const [O, I, KH, KW] = shape;
  const [N, H, W] = [2, 5, 6];
  const x = Float32Array.from(uniformArray(N * H * W * I, 78, 0, -3, 3), Math.round);
  const tx = Tensor.upload(rt, x, [N, H, W, I]);
  // The CIFAR stem: 3x3, stride 1, padding 1.
  const y = await conv2d(tx, store.param('conv1.weight').value, null, { stride: 1, padding: 1 }).download();
  tx.dispose();
  store.dispose();
  const expected = new Float64Array(N * H * W * O);
  for (let n = 0; n < N; n++) for (let oh = 0; oh < H; oh++) for (let ow = 0; ow < W; ow++) for (let o = 0; o < O; o++) {
    let s = 0;
    for (let i = 0; i < I; i++) for (let kh = 0; kh < KH; kh++) for (let kw = 0; kw < KW; kw++) {
      const ih = oh + kh - 1, iw = ow + kw - 1;
      if (ih >= 0 && ih < H && iw >= 0 && iw < W) s += x[((n * H + ih) * W + iw) * I + i] * weight[((o * I + i) * KH + kh) * KW + kw];
    }
    expected[((n * H + oh) * W + ow) * O + o] = s;
  }
  // Integers in [-3, 3] over 27 taps: every partial sum is an integer below 2^24, exact in f32, so no tolerance.
  assert.equal(Array.from(y), Array.from(expected));
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
