// safetensors against the format's specification: bit-exact round trips, files laid out by hand byte by byte
// (the reference library writes these exact bytes), every kind of corruption, and atomic writes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSafetensors, writeSafetensors } from '../src/train/safetensors.ts';
import { throwsOneLine } from './assertions.ts';

const dir = mkdtempSync(join(tmpdir(), 'saln-safetensors-'));
const at = (name: string) => join(dir, name);

/** A file as the spec describes it: u64 LE header length, the JSON text padded with spaces to 8, the data. */
function specFile(json: string, data: number[]): Buffer {
  const padded = json + ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(Buffer.byteLength(padded)));
  return Buffer.concat([length, Buffer.from(padded, 'utf8'), Buffer.from(data)]);
}

const bitsOf = (values: Float32Array) => [...new Uint32Array(values.buffer, values.byteOffset, values.length)];
function fromBits(bits: number[]): Float32Array {
  return new Float32Array(new Uint32Array(bits).buffer);
}


test('round trip is bit-exact, including -0, infinities, denormals and NaN payloads', () => {
  const special = fromBits([
    0x80000000, // -0
    0x7f800000, 0xff800000, // +-Inf
    0x00000001, 0x807fffff, // smallest and largest-magnitude negative denormal
    0x7fc00000, 0x7fc00001, 0xffbadbad, 0x7f800001, // quiet NaNs with payloads, a signalling NaN
    0x3f800000, 0x7f7fffff, // 1, largest finite
  ]);
  const random = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i * 12.9898) * 43758.5453);
  const tensors = new Map([
    // Integer-like names would be reordered by a plain JS object; the Map's order must survive.
    ['10', { shape: [11], data: special }],
    ['2', { shape: [10, 25, 4], data: random }],
    ['scalar', { shape: [], data: Float32Array.of(3.5) }],
    ['empty', { shape: [0, 3], data: new Float32Array(0) }],
  ]);
  writeSafetensors(at('round.safetensors'), tensors, { format: 'pt', epoch: '3' });
  const read = readSafetensors(at('round.safetensors'));
  assert.equal([...read.tensors.keys()], ['10', '2', 'scalar', 'empty']);
  assert.equal(read.metadata, { format: 'pt', epoch: '3' });
  for (const [name, { shape, data }] of tensors) {
    const got = read.tensors.get(name)!;
    assert.equal(got.shape, shape, name);
    assert.is(got.dtype, 'F32');
    assert.equal(bitsOf(got.data), bitsOf(data), name);
  }
  // A Record works too, and a subarray view writes only its own elements.
  const backing = Float32Array.of(9, 1, 2, 9);
  writeSafetensors(at('record.safetensors'), { w: { shape: [2], data: backing.subarray(1, 3) } });
  assert.equal([...readSafetensors(at('record.safetensors')).tensors.get('w')!.data], [1, 2]);
});

test("the writer's bytes match the spec and the reference library's own test vectors", () => {
  // From the reference library's tests: one F32 tensor [1,1,2,3] = 0..5, no metadata; the 65-byte JSON is
  // padded with 7 spaces to 72 so the data starts 8-byte aligned.
  const json = '{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}';
  const floats = [0, 0, 0, 0, 0, 0, 0x80, 0x3f, 0, 0, 0, 0x40, 0, 0, 0x40, 0x40, 0, 0, 0x80, 0x40, 0, 0, 0xa0, 0x40];
  const expected = specFile(json, floats);
  assert.equal([...expected.subarray(0, 8)], [72, 0, 0, 0, 0, 0, 0, 0]);
  assert.is(expected.subarray(8 + 65, 8 + 72).toString(), '       ');
  writeSafetensors(at('vector.safetensors'), { attn0: { shape: [1, 1, 2, 3], data: Float32Array.of(0, 1, 2, 3, 4, 5) } });
  assert.equal([...readFileSync(at('vector.safetensors'))], [...expected]);
  // No tensors, metadata {"framework": "pt"}: `__metadata__` comes first, 35 bytes padded to 40.
  writeSafetensors(at('empty.safetensors'), {}, { framework: 'pt' });
  assert.equal([...readFileSync(at('empty.safetensors'))], [...specFile('{"__metadata__":{"framework":"pt"}}', [])]);
  assert.is(readFileSync(at('empty.safetensors')).readBigUInt64LE(0), 40n);
  writeSafetensors(at('nothing.safetensors'), new Map());
  assert.equal([...readFileSync(at('nothing.safetensors'))], [8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]);
});

test('reads a hand-made file with F16, BF16, F64, I64 tensors in any header order', () => {
  const json = JSON.stringify({
    i64: { dtype: 'I64', shape: [3], data_offsets: [48, 72] },
    __metadata__: { source: 'hand' },
    f16: { dtype: 'F16', shape: [2, 4], data_offsets: [0, 16] },
    bf16: { dtype: 'BF16', shape: [4], data_offsets: [16, 24] },
    f64: { dtype: 'F64', shape: [3], data_offsets: [24, 48] },
  });
  const le16 = (...values: number[]) => values.flatMap((v) => [v & 0xff, v >> 8]);
  const f64 = (...values: number[]) => [...new Uint8Array(Float64Array.from(values).buffer)];
  const i64 = (...values: bigint[]) => [...new Uint8Array(BigInt64Array.from(values).buffer)];
  const data = [
    // f16: 1, -2, 65504 (max), 2^-24 (smallest denormal), -0, +Inf, NaN, 0x3555 = 0.333251953125
    ...le16(0x3c00, 0xc000, 0x7bff, 0x0001, 0x8000, 0x7c00, 0x7e00, 0x3555),
    // bf16: 1, -5, 3.140625, 0x0001 = 2^-133 (an f32 denormal)
    ...le16(0x3f80, 0xc0a0, 0x4049, 0x0001),
    ...f64(0.1, 1e300, -0),
    ...i64(7n, -3n, 1n << 40n),
  ];
  writeFileSync(at('hand.safetensors'), specFile(json, data));
  const { tensors, metadata } = readSafetensors(at('hand.safetensors'));
  assert.equal(metadata, { source: 'hand' });
  assert.equal([...tensors.keys()], ['f16', 'bf16', 'f64', 'i64'], 'in data order');
  const f16 = tensors.get('f16')!;
  assert.equal(f16.shape, [2, 4]);
  assert.is(f16.dtype, 'F16');
  assert.equal([...f16.data.slice(0, 4)], [1, -2, 65504, 2 ** -24]);
  assert.ok(Object.is(f16.data[4], -0));
  assert.is(f16.data[5], Infinity);
  assert.ok(Number.isNaN(f16.data[6]));
  assert.is(f16.data[7], 0.333251953125);
  assert.equal([...tensors.get('bf16')!.data], [1, -5, 3.140625, 2 ** -133]);
  const f64Data = tensors.get('f64')!.data;
  assert.is(f64Data[0], Math.fround(0.1));
  assert.is(f64Data[1], Infinity, 'beyond the f32 range');
  assert.ok(Object.is(f64Data[2], -0));
  assert.equal([...tensors.get('i64')!.data], [7, -3, 2 ** 40]);
});

test('every corruption is one line naming the file', () => {
  const good = specFile('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', [0, 0, 0x80, 0x3f, 0, 0, 0, 0x40]);
  const cases: [string, Buffer, RegExp][] = [
    ['short', good.subarray(0, 5), /truncated: 5 bytes, shorter than the 8-byte header length/],
    ['truncated', good.subarray(0, good.length - 3), /truncated: tensor a ends at byte 8 of the data section, which holds 5 bytes/],
    ['past-end', Buffer.concat([Buffer.from([0, 1, 0, 0, 0, 0, 0, 0]), good.subarray(8)]), /header length 256 runs past the end of the file/],
    ['huge-header', Buffer.concat([Buffer.from([0, 0, 0, 0, 0, 1, 0, 0]), good.subarray(8)]), /header length 1099511627776 exceeds the format's limit/],
    ['not-json', Buffer.concat([good.subarray(0, 8), Buffer.from('#'), good.subarray(9)]), /header is not JSON \(/],
    ['not-utf8', Buffer.concat([good.subarray(0, 12), Buffer.from([0xff]), good.subarray(13)]), /header is not JSON \(/],
    ['array', specFile('[1,2]', []), /header is not a JSON object/],
    ['out-of-range', specFile('{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}', [0, 0, 0, 0, 0, 0, 0, 0]), /truncated: tensor a ends at byte 16 of the data section, which holds 8 bytes/],
    ['size-mismatch', specFile('{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', new Array(8).fill(0)), /tensor a: shape \[3\] of F32 needs 12 bytes, data_offsets \[0, 8\] span 8/],
    ['overlap', specFile('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}', new Array(12).fill(0)), /tensors a and b overlap \(data_offsets \[0, 8\] and \[4, 12\]\)/],
    ['gap', specFile('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}', new Array(12).fill(0)), /data bytes \[4, 8\) belong to no tensor/],
    ['trailing', Buffer.concat([good, Buffer.from([1, 2, 3])]), /3 bytes after the last tensor's data/],
    ['reversed', specFile('{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}', new Array(8).fill(0)), /tensor a has invalid data_offsets \[8,0\]/],
    ['bad-shape', specFile('{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}', new Array(8).fill(0)), /tensor a has an invalid shape \[-2\]/],
    ['unknown-dtype', specFile('{"a":{"dtype":"Q7","shape":[2],"data_offsets":[0,8]}}', new Array(8).fill(0)), /tensor a has unknown dtype 'Q7'/],
    ['fp8', specFile('{"a":{"dtype":"F8_E4M3","shape":[8],"data_offsets":[0,8]}}', new Array(8).fill(0)), /tensor a has dtype F8_E4M3, which has no f32 conversion/],
    ['metadata', specFile('{"__metadata__":{"epoch":3},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', new Array(8).fill(0)), /__metadata__ is not an object of strings/],
  ];
  for (const [name, bytes, pattern] of cases) {
    const path = at(`${name}.safetensors`);
    writeFileSync(path, bytes);
    throwsOneLine(() => readSafetensors(path), new RegExp(`^${path}: ${pattern.source}`));
  }
  throwsOneLine(() => readSafetensors(at('absent.safetensors')), /absent\.safetensors: cannot read \(ENOENT\)$/);
  // The uncorrupted original reads fine, so each failure above is the corruption's doing.
  writeFileSync(at('ok.safetensors'), good);
  assert.equal([...readSafetensors(at('ok.safetensors')).tensors.get('a')!.data], [1, 2]);
});

test('a failed write leaves no file at the target path and keeps the previous checkpoint', () => {
  const path = at('ckpt.safetensors');
  throwsOneLine(() => writeSafetensors(at('no-such-dir/ckpt.safetensors'), { a: { shape: [1], data: Float32Array.of(1) } }), /no-such-dir\/ckpt\.safetensors: cannot write \(ENOENT/);
  assert.not.ok(existsSync(at('no-such-dir')));
  throwsOneLine(() => writeSafetensors(path, { a: { shape: [3], data: Float32Array.of(1) } }), /cannot write: tensor a: shape \[3\] holds 3 elements, data has 1$/);
  assert.not.ok(existsSync(path));

  writeSafetensors(path, { a: { shape: [2], data: Float32Array.of(1, 2) } });
  const previous = readFileSync(path);
  // Fail in the middle: the first tensor is already in the temporary file when the second one's bytes throw.
  const poisoned = Float32Array.of(3, 4);
  Object.defineProperty(poisoned, 'buffer', { get: () => { throw new Error('simulated disk failure'); } });
  throwsOneLine(() => writeSafetensors(path, new Map([['a', { shape: [2], data: Float32Array.of(5, 6) }], ['b', { shape: [2], data: poisoned }]])), /ckpt\.safetensors: cannot write \(simulated disk failure\)$/);
  assert.equal([...readFileSync(path)], [...previous]);
  assert.equal(readdirSync(dir).filter((name) => name.includes('.tmp-')), [], 'no temporary file left behind');
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
