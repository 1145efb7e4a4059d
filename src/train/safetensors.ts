// Checkpoints and pretrained weights in Hugging Face's safetensors format
// (https://huggingface.co/docs/safetensors): u64 little-endian header length N, N bytes of JSON, raw
// little-endian data. Files we write are byte-identical to what the reference Rust/Python library writes for
// the same tensors in the same order, so PyTorch (safetensors.torch.load_file) reads them, and we read theirs.
import { readFileSync } from 'node:fs';
import { endianness } from 'node:os';
import { writeFileAtomic } from '../util/atomic.ts';

export interface TensorToWrite {
  shape: number[];
  data: Float32Array;
}

export interface LoadedTensor {
  shape: number[];
  /** The dtype stored in the file; `data` is always converted to f32. */
  dtype: string;
  data: Float32Array;
}

export interface SafetensorsFile {
  /** In the order of the tensors' data in the file. */
  tensors: Map<string, LoadedTensor>;
  metadata: Record<string, string>;
}

export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
}

const LITTLE_ENDIAN_HOST = endianness() === 'LE';
// The reference library refuses larger headers; so do we, rather than allocate whatever a corrupt length says.
const MAX_HEADER_BYTES = 100_000_000;

type ElementReader = (view: DataView, byteOffset: number) => number;
// Every dtype of the format with its size; `read` is absent for the ones with no sensible f32 conversion.
const DTYPES: Record<string, { bytes: number; read?: ElementReader }> = {
  F64: { bytes: 8, read: (v, o) => v.getFloat64(o, true) },
  F32: { bytes: 4, read: (v, o) => v.getFloat32(o, true) },
  F16: { bytes: 2, read: (v, o) => halfToFloat(v.getUint16(o, true)) },
  BF16: { bytes: 2, read: (v, o) => bfloatToFloat(v.getUint16(o, true)) },
  I64: { bytes: 8, read: (v, o) => Number(v.getBigInt64(o, true)) },
  U64: { bytes: 8, read: (v, o) => Number(v.getBigUint64(o, true)) },
  I32: { bytes: 4, read: (v, o) => v.getInt32(o, true) },
  U32: { bytes: 4, read: (v, o) => v.getUint32(o, true) },
  I16: { bytes: 2, read: (v, o) => v.getInt16(o, true) },
  U16: { bytes: 2, read: (v, o) => v.getUint16(o, true) },
  I8: { bytes: 1, read: (v, o) => v.getInt8(o) },
  U8: { bytes: 1, read: (v, o) => v.getUint8(o) },
  BOOL: { bytes: 1, read: (v, o) => (v.getUint8(o) ? 1 : 0) },
  F8_E4M3: { bytes: 1 },
  F8_E5M2: { bytes: 1 },
};

/**
 * Writes F32 tensors in the order given (a Record orders integer-like keys first, as JS objects do).
 * Atomic: the bytes go to `${path}.tmp-${pid}`, are fsynced, then renamed over `path`, so a crash leaves
 * either the old checkpoint or the new one, never half of one.
 */
export function writeSafetensors(path: string, tensors: Map<string, TensorToWrite> | Record<string, TensorToWrite>, metadata?: Record<string, string>): void {
  const entries = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  const header = encodeHeader(path, entries, metadata);
  // The tensors' bytes are produced as they are written, so that a failure half-way leaves the previous file.
  const parts = function* () {
    yield header;
    for (const [, tensor] of entries) yield littleEndianBytes(tensor.data);
  };
  const size = header.length + entries.reduce((total, [, tensor]) => total + tensor.data.byteLength, 0);
  writeFileAtomic(path, parts(), { durable: true, createDirectory: false, size, error: (message) => new SafetensorsError(message) });
}

/** The 8-byte length and the space-padded JSON header, laid out exactly as the reference library does. */
function encodeHeader(path: string, entries: [string, TensorToWrite][], metadata: Record<string, string> | undefined): Uint8Array {
  const fail = (problem: string): never => {
    throw new SafetensorsError(`${path}: cannot write: ${problem}`);
  };
  // Built by hand rather than JSON.stringify(object) so that integer-like names keep the order given.
  const fields: string[] = [];
  if (metadata !== undefined) {
    for (const [key, value] of Object.entries(metadata)) if (typeof value !== 'string') fail(`metadata '${key}' is not a string`);
    fields.push(`"__metadata__":${JSON.stringify(metadata)}`);
  }
  let offset = 0;
  for (const [name, { shape, data }] of entries) {
    if (!name || name === '__metadata__') fail(`invalid tensor name '${name}'`);
    if (!(data instanceof Float32Array)) fail(`tensor ${name}: data is not a Float32Array`);
    if (!Array.isArray(shape) || !shape.every((size) => Number.isSafeInteger(size) && size >= 0)) fail(`tensor ${name}: invalid shape ${JSON.stringify(shape)}`);
    const elements = shape.reduce((product, size) => product * size, 1);
    if (elements !== data.length) fail(`tensor ${name}: shape [${shape}] holds ${elements} elements, data has ${data.length}`);
    const info = { dtype: 'F32', shape, data_offsets: [offset, offset + data.byteLength] };
    fields.push(`${JSON.stringify(name)}:${JSON.stringify(info)}`);
    offset += data.byteLength;
  }
  const json = new TextEncoder().encode(`{${fields.join(',')}}`);
  // Padding to a multiple of 8 keeps every tensor's data 8-byte aligned when the file is memory-mapped.
  const padded = Math.ceil(json.length / 8) * 8;
  const bytes = new Uint8Array(8 + padded).fill(0x20, 8 + json.length);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(padded), true);
  bytes.set(json, 8);
  return bytes;
}

/** Reads every tensor as f32, after checking the whole layout; errors are one line naming the file. */
export function readSafetensors(path: string): SafetensorsFile {
  const fail = (problem: string): never => {
    throw new SafetensorsError(`${path}: ${problem}`);
  };
  let file: Uint8Array;
  try {
    file = readFileSync(path);
  } catch (e) {
    return fail(`cannot read (${(e as NodeJS.ErrnoException).code ?? oneLine(e)})`);
  }
  if (file.length < 8) fail(`truncated: ${file.length} bytes, shorter than the 8-byte header length`);
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const headerLength = view.getBigUint64(0, true);
  if (headerLength > BigInt(MAX_HEADER_BYTES)) fail(`header length ${headerLength} exceeds the format's limit of ${MAX_HEADER_BYTES} bytes`);
  if (8n + headerLength > BigInt(file.length)) fail(`header length ${headerLength} runs past the end of the file (${file.length} bytes)`);
  const dataStart = 8 + Number(headerLength);
  const dataLength = file.length - dataStart;

  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(file.subarray(8, dataStart)));
  } catch (e) {
    fail(`header is not JSON (${printable(oneLine(e))})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) return fail('header is not a JSON object');

  let metadata: Record<string, string> = {};
  const infos: { name: string; dtype: string; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, value] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (typeof value !== 'object' || value === null || Array.isArray(value) || !Object.values(value).every((v) => typeof v === 'string')) {
        fail('__metadata__ is not an object of strings');
      }
      metadata = value as Record<string, string>;
      continue;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail(`tensor ${quote(name)} is not described by an object`);
    const { dtype, shape, data_offsets: offsets } = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof dtype !== 'string') return fail(`tensor ${quote(name)} has no dtype`);
    // Own properties only: 'toString' or '__proto__' must not find Object.prototype's.
    const kind = Object.hasOwn(DTYPES, dtype) ? DTYPES[dtype] : undefined;
    if (!kind) return fail(`tensor ${quote(name)} has unknown dtype '${quote(dtype)}'`);
    if (!kind.read) fail(`tensor ${quote(name)} has dtype ${dtype}, which has no f32 conversion`);
    if (!Array.isArray(shape) || !shape.every((size) => Number.isSafeInteger(size) && size >= 0)) return fail(`tensor ${quote(name)} has an invalid shape ${describe(shape)}`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) || offsets[0] > offsets[1]) {
      return fail(`tensor ${quote(name)} has invalid data_offsets ${describe(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    if (end > dataLength) fail(`truncated: tensor ${quote(name)} ends at byte ${end} of the data section, which holds ${dataLength} bytes`);
    const needed = shape.reduce((product: number, size: number) => product * size, 1) * kind.bytes;
    if (end - begin !== needed) fail(`tensor ${quote(name)}: shape ${describe(shape)} of ${dtype} needs ${needed} bytes, data_offsets [${begin}, ${end}] span ${end - begin}`);
    infos.push({ name, dtype, shape, begin, end });
  }

  // Like the reference reader: sorted by offset, the tensors must tile the data section exactly.
  infos.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  for (let i = 0; i < infos.length; i++) {
    const { name, begin, end } = infos[i];
    if (begin < covered) fail(`tensors ${quote(infos[i - 1].name)} and ${quote(name)} overlap (data_offsets [${infos[i - 1].begin}, ${infos[i - 1].end}] and [${begin}, ${end}])`);
    if (begin > covered) fail(`data bytes [${covered}, ${begin}) belong to no tensor`);
    covered = end;
  }
  if (covered !== dataLength) fail(`${dataLength - covered} bytes after the last tensor's data`);

  const tensors = new Map<string, LoadedTensor>();
  for (const { name, dtype, shape, begin, end } of infos) {
    const bytes = file.subarray(dataStart + begin, dataStart + end);
    tensors.set(name, { shape, dtype, data: toFloat32(bytes, dtype) });
  }
  return { tensors, metadata };
}

function toFloat32(bytes: Uint8Array, dtype: string): Float32Array {
  if (dtype === 'F32') {
    // A byte copy, not getFloat32: it keeps NaN payloads bit-exact and fixes the file's arbitrary alignment.
    // (`new Uint8Array(bytes)`, since Buffer's slice() would return a view of the whole file's memory.)
    const copy = new Uint8Array(bytes);
    if (!LITTLE_ENDIAN_HOST) swapBytes(copy, 4);
    return new Float32Array(copy.buffer);
  }
  const { bytes: size, read } = DTYPES[dtype];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(bytes.length / size);
  for (let i = 0; i < out.length; i++) out[i] = read!(view, i * size);
  return out;
}

function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 31) return mantissa ? NaN : sign * Infinity;
  return sign * (1024 + mantissa) * 2 ** (exponent - 25);
}

const bfloatScratch = new Float32Array(1);
const bfloatBits = new Uint32Array(bfloatScratch.buffer);
/** bf16 is the top half of an f32, so widening is exact. */
function bfloatToFloat(bits: number): number {
  bfloatBits[0] = bits << 16;
  return bfloatScratch[0];
}

function littleEndianBytes(data: Float32Array): Uint8Array {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (LITTLE_ENDIAN_HOST) return bytes;
  const copy = bytes.slice();
  swapBytes(copy, 4);
  return copy;
}

function swapBytes(bytes: Uint8Array, width: number) {
  for (let i = 0; i < bytes.length; i += width) bytes.subarray(i, i + width).reverse();
}

/** A name from the file, quoted and cut short: it may hold newlines, control characters or kilobytes. */
function quote(text: string): string {
  if (/^[\x21-\x7e]{1,60}$/.test(text)) return text;
  return printable(JSON.stringify(text.length > 60 ? `${text.slice(0, 57)}...` : text));
}

/** A header value in a message: short arrays of numbers as they are, anything else by its kind and size. */
function describe(value: unknown): string {
  if (Array.isArray(value)) {
    // Not JSON.stringify: a deeply nested array from a damaged header overflows the stack.
    return value.length <= 8 && value.every((v) => typeof v === 'number') ? `[${value.join(',')}]` : `(an array of ${value.length})`;
  }
  if (typeof value === 'string') return quote(value);
  return typeof value === 'object' && value !== null ? '(an object)' : String(value);
}

/** One printable line of bounded length (JSON.parse quotes the input it failed on). */
function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  const line = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, '?');
  return line.length > 160 ? `${line.slice(0, 157)}...` : line;
}

const oneLine = (e: unknown) => String((e as Error)?.message ?? e).replace(/\s+/g, ' ').trim();
