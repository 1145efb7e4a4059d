// The IDX format of MNIST-style data sets (http://yann.lecun.com/exdb/mnist/): a big-endian header, then raw
// bytes. Files may be gzipped (as distributed and as Debian ships them), so the gzip magic is sniffed rather
// than trusting the file name. Every error is one line naming the file, since a user's fix is "replace that file".
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { LabelledImages } from './images.ts';

export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

const UNSIGNED_BYTE = 0x08;
const TYPE_NAMES: Record<number, string> = { 0x08: 'uint8', 0x09: 'int8', 0x0b: 'int16', 0x0c: 'int32', 0x0d: 'float32', 0x0e: 'float64' };

export class IdxError extends Error {
  override name = 'IdxError';
}

/** Parses an IDX byte stream (already gunzipped); `file` only names the source in errors. */
export function parseIdx(bytes: Uint8Array, file: string): IdxArray {
  const fail = (problem: string): never => {
    throw new IdxError(`${file}: ${problem}`);
  };
  if (bytes.length < 4) fail(`truncated: ${bytes.length} bytes, shorter than the 4-byte IDX magic`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    fail(`not an IDX file (magic starts ${hex(bytes[0])} ${hex(bytes[1])}, expected 0x00 0x00)`);
  }
  const type = bytes[2], rank = bytes[3];
  if (type !== UNSIGNED_BYTE) {
    const known = TYPE_NAMES[type];
    fail(known ? `unsupported element type ${hex(type)} (${known}); only ${hex(UNSIGNED_BYTE)} uint8 is supported` : `not an IDX file (unknown element type ${hex(type)})`);
  }
  if (rank === 0) fail('not an IDX file (0 dimensions)');
  const headerBytes = 4 + 4 * rank;
  if (bytes.length < headerBytes) fail(`truncated: the header of ${rank} dimensions needs ${headerBytes} bytes, the file has ${bytes.length}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims = Array.from({ length: rank }, (_, d) => view.getUint32(4 + 4 * d, false));
  const expected = dims.reduce((product, size) => product * size, 1);
  const got = bytes.length - headerBytes;
  if (got < expected) fail(`truncated: dimensions ${dims.join('x')} need ${expected} data bytes, the file has ${got}`);
  if (got > expected) fail(`${got - expected} bytes of trailing garbage after the ${dims.join('x')} data`);
  // A plain Uint8Array view: a Buffer's slice() does not copy, and callers rely on slice() copying.
  return { dims, data: new Uint8Array(bytes.buffer, bytes.byteOffset + headerBytes, expected) };
}

// EMNIST, the largest IDX set in use, is under 1 GiB uncompressed.
const MAX_IDX_BYTES = 2 * 2 ** 30;

/** Reads an IDX file, gunzipping it when it starts with the gzip magic 1f 8b. */
export function readIdx(path: string): IdxArray {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new IdxError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      // Bounded, so that a damaged or hostile stream cannot inflate into all of memory.
      bytes = gunzipSync(bytes, { maxOutputLength: MAX_IDX_BYTES });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
        throw new IdxError(`${path}: decompresses to more than ${MAX_IDX_BYTES / 2 ** 30} GiB, more than any IDX data set; the file is damaged`);
      }
      throw new IdxError(`${path}: corrupt or truncated gzip stream (${(e as Error).message.replace(/\s+/g, ' ')})`);
    }
  }
  return parseIdx(bytes, path);
}

export interface IdxPairSpec {
  /** Names the data set in messages, e.g. "Fashion-MNIST". */
  dataset: string;
  dir: string;
  /** File names without the optional `.gz`. */
  imagesFile: string;
  labelsFile: string;
  classes: string[];
  /** Expected image size; a file with another size is rejected rather than silently mis-strided. */
  height: number;
  width: number;
  /** How the user gets the files, appended to "not found" errors. */
  installHint: string;
  /** Keep only the first `limit` samples (all when absent or larger than the file). */
  limit?: number;
}

/** Loads an images file and its labels file and checks that they describe the same samples. */
export function loadIdxPair(spec: IdxPairSpec): LabelledImages {
  const { dataset, dir, classes, height, width } = spec;
  if (spec.limit !== undefined && !(Number.isInteger(spec.limit) && spec.limit > 0)) {
    throw new IdxError(`${dataset}: limit must be a positive integer, got ${spec.limit}`);
  }
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new IdxError(`${dataset} not found: no directory ${dir}; ${spec.installHint}`);
  }
  const imagesPath = findIdx(dataset, dir, spec.imagesFile, spec.installHint);
  const labelsPath = findIdx(dataset, dir, spec.labelsFile, spec.installHint);
  const images = readIdx(imagesPath);
  const labels = readIdx(labelsPath);
  if (images.dims.length !== 3 || images.dims[1] !== height || images.dims[2] !== width) {
    throw new IdxError(`${imagesPath}: expected images of N x ${height} x ${width}, the file holds ${images.dims.join(' x ')}`);
  }
  if (labels.dims.length !== 1) throw new IdxError(`${labelsPath}: expected a 1-D labels file, the file holds ${labels.dims.join(' x ')}`);
  if (images.dims[0] !== labels.dims[0]) {
    throw new IdxError(`${imagesPath}: ${images.dims[0]} images but ${labelsPath} has ${labels.dims[0]} labels`);
  }
  // Well-formed, but a data set without samples is a damaged copy, and training on it fails far from here.
  if (images.dims[0] === 0) throw new IdxError(`${imagesPath}: holds no samples (0 x ${height} x ${width})`);
  const count = Math.min(images.dims[0], spec.limit ?? Infinity);
  const pixels = height * width;
  // Copies, so that a limited load does not keep the whole decompressed file alive through a subarray view.
  const kept = { images: images.data.slice(0, count * pixels), labels: labels.data.slice(0, count) };
  for (let i = 0; i < labels.dims[0]; i++) {
    if (labels.data[i] >= classes.length) {
      throw new IdxError(`${labelsPath}: label ${labels.data[i]} at index ${i} is out of range for ${classes.length} classes`);
    }
  }
  return { ...kept, count, height, width, channels: 1, classes: [...classes] };
}

function findIdx(dataset: string, dir: string, name: string, installHint: string): string {
  for (const candidate of [join(dir, name), join(dir, `${name}.gz`)]) if (existsSync(candidate)) return candidate;
  throw new IdxError(`${dataset} not found: looked for ${join(dir, name)}(.gz); ${installHint}`);
}

const hex = (byte: number) => `0x${byte.toString(16).padStart(2, '0')}`;
