// Pixel work shared by the loaders of image files (Oxford-IIIT Pet, image folders): decoding JPEG and PNG
// whatever the file name says, resizing to cover a target and center-cropping, grey conversion, and a
// class-balanced choice of samples for `limit`. Everything returns 8-bit interleaved pixels (HWC).
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { writeFileAtomic } from '../src/util/atomic.ts';
import jpeg from 'jpeg-js';
import { decode as decodePng, convertIndexedToRgb, type DecodedPng } from 'fast-png';
import { DatasetError } from './errors.ts';
import type { LabelledImages } from './images.ts';

/** Interleaved 8-bit pixels, rows top to bottom. */
export interface Raster {
  width: number;
  height: number;
  channels: number;
  data: Uint8Array;
}

export type ImageFormat = 'jpeg' | 'png';

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** The format from the leading bytes: some real data sets hold PNG data under .jpg names. */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | undefined {
  if (bytes.length >= 8 && PNG_MAGIC.every((b, i) => bytes[i] === b)) return 'png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  return undefined;
}

/** Decodes JPEG or PNG bytes to RGB (3 channels); `file` only names the source in errors. */
export function decodeImage(bytes: Uint8Array, file: string): Raster {
  const format = sniffImageFormat(bytes);
  if (!format) throw new DatasetError(`${file}: not a JPEG or PNG image (starts with ${hexBytes(bytes, 4)})`);
  checkPlausibleSize(bytes, file, format);
  let image: Raster;
  try {
    image = format === 'jpeg' ? decodeJpegRgb(bytes) : pngToRgb(decodePng(bytes));
  } catch (e) {
    throw new DatasetError(`${file}: cannot decode ${format.toUpperCase()} (${oneLine((e as Error).message)})`);
  }
  if (image.width < 1 || image.height < 1) throw new DatasetError(`${file}: empty ${format.toUpperCase()} image (${image.width}x${image.height})`);
  return image;
}

// The most pixels a file of n bytes can encode. A Huffman-coded JPEG spends at least one bit on the DC
// coefficient of every 8x8 luma block, so it holds at most 512 pixels a byte (a progressive file's AC scans can
// be nearly free, its DC scan cannot); deflate expands at most 1032-fold, and a 1-bit PNG row packs 8 pixels a
// byte. Twice those bounds still stop a damaged header (65535x1500 in 3 KB) before the decoder allocates for it.
const MAX_PIXELS_PER_BYTE: Record<ImageFormat, number> = { jpeg: 1024, png: 2 * 8 * 1032 };

/** Rejects a header whose declared size the rest of the file cannot possibly fill. */
function checkPlausibleSize(bytes: Uint8Array, file: string, format: ImageFormat): void {
  let size: { width: number; height: number };
  try {
    size = headerDimensions(bytes, file);
  } catch {
    return; // no readable header here: the decoder reports what is wrong
  }
  const pixels = size.width * size.height;
  if (pixels > MAX_PIXELS_PER_BYTE[format] * bytes.length) {
    throw new DatasetError(`${file}: corrupt ${format.toUpperCase()}: the header declares ${size.width}x${size.height} pixels, more than ${bytes.length} bytes can encode`);
  }
}

function decodeJpegRgb(bytes: Uint8Array): Raster {
  // With formatAsRGBA false jpeg-js always writes 3 channels: grey (1 component) is repeated, and Adobe CMYK /
  // YCCK (4 components) are converted, so no caller ever sees 1 or 4 channels from a JPEG.
  const decoded = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false });
  return { width: decoded.width, height: decoded.height, channels: 3, data: decoded.data };
}

/** Any PNG colour type and bit depth to 8-bit RGB. Alpha is dropped, as PIL's convert('RGB') does. */
export function pngToRgb(png: DecodedPng): Raster {
  const { width, height } = png;
  const pixels = width * height;
  let samples: Uint8Array;
  let channels: number;
  if (png.palette) {
    samples = convertIndexedToRgb(png);
    channels = png.palette[0]?.length ?? 3;
  } else {
    channels = png.channels;
    samples = to8Bit(png.data, png.depth, width * channels, height);
  }
  const rgb = new Uint8Array(pixels * 3);
  if (channels >= 3) {
    for (let p = 0; p < pixels; p++) {
      rgb[3 * p] = samples[channels * p];
      rgb[3 * p + 1] = samples[channels * p + 1];
      rgb[3 * p + 2] = samples[channels * p + 2];
    }
  } else {
    for (let p = 0; p < pixels; p++) rgb[3 * p] = rgb[3 * p + 1] = rgb[3 * p + 2] = samples[channels * p];
  }
  return { width, height, channels: 3, data: rgb };
}

/** Unpacks 1/2/4-bit rows (each row padded to a byte) and narrows 16-bit samples to their high byte. */
function to8Bit(data: ArrayLike<number>, depth: number, samplesPerRow: number, rows: number): Uint8Array {
  if (depth === 8) return data instanceof Uint8Array ? data : Uint8Array.from(data);
  const out = new Uint8Array(samplesPerRow * rows);
  if (depth === 16) {
    for (let i = 0; i < out.length; i++) out[i] = data[i] >>> 8;
    return out;
  }
  const rowBytes = Math.ceil((samplesPerRow * depth) / 8);
  const max = (1 << depth) - 1;
  const perByte = 8 / depth;
  for (let row = 0; row < rows; row++) {
    for (let s = 0; s < samplesPerRow; s++) {
      const byte = data[row * rowBytes + Math.floor(s / perByte)];
      const shift = 8 - depth * ((s % perByte) + 1);
      out[row * samplesPerRow + s] = Math.round((((byte >> shift) & max) * 255) / max);
    }
  }
  return out;
}

/** Width and height from the file header alone (PNG IHDR, JPEG SOFn), without decoding the pixels. */
export function imageDimensions(bytes: Uint8Array, file: string): { width: number; height: number } {
  const size = headerDimensions(bytes, file);
  // A zero side is legal in a JPEG only with a DNL marker, which no decoder here supports; in a PNG it is damage.
  if (size.width < 1 || size.height < 1) throw new DatasetError(`${file}: corrupt image header (${size.width}x${size.height} pixels)`);
  return size;
}

function headerDimensions(bytes: Uint8Array, file: string): { width: number; height: number } {
  const format = sniffImageFormat(bytes);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (format === 'png') {
    if (bytes.length < 24) throw new DatasetError(`${file}: truncated PNG header (${bytes.length} bytes)`);
    return { width: view.getUint32(16, false), height: view.getUint32(20, false) };
  }
  if (format === 'jpeg') {
    let at = 2;
    while (at + 4 <= bytes.length) {
      if (bytes[at] !== 0xff) throw new DatasetError(`${file}: corrupt JPEG (no marker at byte ${at})`);
      const marker = bytes[at + 1];
      if (marker === 0xff) { at++; continue; } // fill byte
      if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) { at += 2; continue; }
      const length = view.getUint16(at + 2, false);
      // SOF0..SOF15 except DHT (c4), JPG (c8) and DAC (cc) carry the frame size.
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
        if (at + 9 > bytes.length) break;
        return { height: view.getUint16(at + 5, false), width: view.getUint16(at + 7, false) };
      }
      if (marker === 0xda || marker === 0xd9) break; // scan data or end before any frame header
      at += 2 + length;
    }
    throw new DatasetError(`${file}: corrupt JPEG (no frame header found)`);
  }
  throw new DatasetError(`${file}: not a JPEG or PNG image (starts with ${hexBytes(bytes, 4)})`);
}

/** ITU-R 601 luma with PIL's integer weights (they sum to 65536, so grey input comes back unchanged). */
export function toGrey(image: Raster): Raster {
  if (image.channels === 1) return image;
  const pixels = image.width * image.height;
  const grey = new Uint8Array(pixels);
  const { data, channels } = image;
  for (let p = 0; p < pixels; p++) {
    grey[p] = (data[channels * p] * 19595 + data[channels * p + 1] * 38470 + data[channels * p + 2] * 7471 + 0x8000) >>> 16;
  }
  return { width: image.width, height: image.height, channels: 1, data: grey };
}

/** Python's round(): half to even. torchvision's center_crop places the window with it. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Scales `image` so that it just covers `height` x `width` (for a square target: the shorter side becomes the
 * target size), then cuts the centered window, like torchvision's Resize(size) + CenterCrop(size).
 *
 * Resampling is PIL's antialiased bilinear: a triangle filter whose radius is one source pixel when enlarging
 * (plain bilinear interpolation) and widens to the shrink factor when shrinking, so that every source pixel
 * contributes (area-weighted averaging). Plain 4-tap bilinear on a 500x375 photo shrunk to 224 would read
 * under a third of the pixels and alias fine texture (fur); and matching torchvision's preprocessing keeps the
 * inputs of ImageNet-pretrained weights looking like what they were trained on.
 */
export function resizeCover(image: Raster, height: number, width: number): Raster {
  const { channels } = image;
  if (image.width === width && image.height === height) return { ...image, data: image.data.slice() };
  const scale = Math.max(height / image.height, width / image.width);
  // Truncation as torchvision's int(size * long / short); the epsilon and the max keep float error from
  // leaving the scaled side one pixel short of the target.
  const scaledHeight = Math.max(height, Math.floor(image.height * scale + 1e-9));
  const scaledWidth = Math.max(width, Math.floor(image.width * scale + 1e-9));
  const rows = axisFilter(image.height, scaledHeight, roundHalfEven((scaledHeight - height) / 2), height);
  const cols = axisFilter(image.width, scaledWidth, roundHalfEven((scaledWidth - width) / 2), width);

  // Horizontal pass over only the source rows the vertical pass reads, kept in float so the two passes
  // round once.
  const firstRow = rows.start[0];
  const lastRow = rows.start[height - 1] + rows.taps[height - 1];
  const stride = width * channels;
  const across = new Float64Array((lastRow - firstRow) * stride);
  const src = image.data;
  for (let y = firstRow; y < lastRow; y++) {
    const srcRow = y * image.width * channels;
    const dstRow = (y - firstRow) * stride;
    for (let x = 0; x < width; x++) {
      const start = cols.start[x], taps = cols.taps[x], w0 = x * cols.maxTaps;
      for (let c = 0; c < channels; c++) {
        let sum = 0;
        for (let k = 0; k < taps; k++) sum += cols.weights[w0 + k] * src[srcRow + (start + k) * channels + c];
        across[dstRow + x * channels + c] = sum;
      }
    }
  }
  const out = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const start = rows.start[y] - firstRow, taps = rows.taps[y], w0 = y * rows.maxTaps;
    for (let i = 0; i < stride; i++) {
      let sum = 0;
      for (let k = 0; k < taps; k++) sum += rows.weights[w0 + k] * across[(start + k) * stride + i];
      out[y * stride + i] = sum <= 0 ? 0 : sum >= 255 ? 255 : Math.round(sum);
    }
  }
  return { width, height, channels, data: out };
}

interface AxisFilter {
  start: Int32Array;
  taps: Int32Array;
  maxTaps: number;
  weights: Float64Array;
}

/**
 * Normalised triangle weights for `count` outputs starting at `offset` along an axis of `inSize` source
 * pixels scaled to `outSize`: output i samples source coordinate (i + offset + 0.5) * inSize / outSize.
 */
function axisFilter(inSize: number, outSize: number, offset: number, count: number): AxisFilter {
  const scale = inSize / outSize;
  const radius = Math.max(scale, 1);
  const maxTaps = Math.ceil(radius) * 2 + 1;
  const start = new Int32Array(count), taps = new Int32Array(count), weights = new Float64Array(count * maxTaps);
  for (let i = 0; i < count; i++) {
    const center = (i + offset + 0.5) * scale;
    const lo = Math.max(0, Math.floor(center - radius + 0.5));
    const hi = Math.min(inSize, Math.floor(center + radius + 0.5));
    let total = 0;
    for (let j = lo; j < hi; j++) {
      const w = Math.max(0, 1 - Math.abs((j + 0.5 - center) / radius));
      weights[i * maxTaps + j - lo] = w;
      total += w;
    }
    // The weights near an edge are cut off by the border; renormalising keeps flat areas flat there.
    if (total > 0) for (let j = lo; j < hi; j++) weights[i * maxTaps + j - lo] /= total;
    else weights[i * maxTaps] = 1;
    start[i] = lo;
    taps[i] = Math.max(1, hi - lo);
  }
  return { start, taps, maxTaps, weights };
}

/**
 * Indices of at most `limit` samples taken round-robin over the classes (then ascending), so that a limited
 * load of a list sorted by class still covers every class.
 */
export function balancedIndices(labels: ArrayLike<number>, limit: number): number[] {
  if (limit >= labels.length) return Array.from({ length: labels.length }, (_, i) => i);
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const list = byClass.get(labels[i]);
    if (list) list.push(i);
    else byClass.set(labels[i], [i]);
  }
  const groups = [...byClass.keys()].sort((a, b) => a - b).map((label) => byClass.get(label)!);
  const chosen: number[] = [];
  for (let round = 0; chosen.length < limit; round++) {
    for (const group of groups) {
      if (round < group.length && chosen.length < limit) chosen.push(group[round]);
    }
  }
  return chosen.sort((a, b) => a - b);
}

const oneLine = (text: string) => text.replace(/\s*\n\s*/g, ' ').trim();
const hexBytes = (bytes: Uint8Array, n: number) =>
  bytes.length === 0 ? 'nothing: the file is empty' : Array.from(bytes.subarray(0, n), (b) => b.toString(16).padStart(2, '0')).join(' ');

// ---- Decoding a list of files once, with an on-disk cache of the result ----

/** One image file and its label. */
export interface ImageSource {
  file: string;
  label: number;
}

export interface DecodeListOptions {
  height: number;
  width: number;
  /** 3: RGB; 1: luma. */
  channels: 1 | 3;
  /** Skip unreadable files with a warning instead of failing on the first. */
  skipBad?: boolean;
  /** After each file: (files done, files in all). */
  onProgress?: (done: number, total: number) => void;
  onWarning?: (message: string) => void;
}

export interface SkippedFile {
  file: string;
  reason: string;
}

/** What the loaders of image files return. */
export interface DecodedImages extends LabelledImages {
  /** The image file of each sample. */
  files: string[];
  /** How many listed images were left out by `skipBad`, and which. */
  skipped: number;
  skippedFiles: SkippedFile[];
  /** True when the pixels came from the cache without decoding. */
  fromCache: boolean;
}

/** Decoded, resized samples in NHWC order, plus the files left out and why. */
export interface DecodedSet {
  images: Uint8Array;
  labels: Uint8Array;
  files: string[];
  count: number;
  height: number;
  width: number;
  channels: number;
  skippedFiles: SkippedFile[];
}

/** Reads, decodes, converts and resizes every source; an unreadable one throws unless `skipBad`. */
export function decodeImageList(sources: ImageSource[], options: DecodeListOptions): DecodedSet {
  const { height, width, channels } = options;
  const sampleBytes = height * width * channels;
  const images = new Uint8Array(sources.length * sampleBytes);
  const labels = new Uint8Array(sources.length);
  const files: string[] = [];
  const skipped: SkippedFile[] = [];
  sources.forEach((source, i) => {
    let pixels: Raster | undefined;
    try {
      pixels = decodeImage(readBytes(source.file), source.file);
    } catch (e) {
      if (!options.skipBad) throw e;
      skipped.push({ file: source.file, reason: (e as Error).message });
      options.onWarning?.(`skipped ${(e as Error).message}`);
    }
    if (pixels) {
      const resized = resizeCover(channels === 1 ? toGrey(pixels) : pixels, height, width);
      images.set(resized.data, files.length * sampleBytes);
      labels[files.length] = source.label;
      files.push(source.file);
    }
    options.onProgress?.(i + 1, sources.length);
  });
  const count = files.length;
  return { images: images.subarray(0, count * sampleBytes), labels: labels.subarray(0, count), files, count, height, width, channels, skippedFiles: skipped };
}

function readBytes(file: string): Uint8Array {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new DatasetError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/**
 * Identifies the inputs of a decode: each file's name, size and modification time, its label, and the output
 * geometry; any change to one of them gives another digest and so rebuilds the cache.
 */
export function sourceDigest(sources: ImageSource[], options: Pick<DecodeListOptions, 'height' | 'width' | 'channels'>): string {
  const hash = createHash('sha256');
  hash.update(JSON.stringify({ cache: CACHE_VERSION, height: options.height, width: options.width, channels: options.channels }));
  for (const { file, label } of sources) {
    let stamp = 'missing';
    try {
      const info = statSync(file);
      stamp = `${info.size}:${info.mtimeMs}`;
    } catch { /* a missing file is part of the identity: it fails or is skipped at decode time */ }
    hash.update(`\n${file}\t${label}\t${stamp}`);
  }
  return hash.digest('hex');
}

// Layout: 8-byte magic, u32 LE format version, u32 LE header length, JSON header, labels (count bytes), images.
const CACHE_MAGIC = Buffer.from('SALNIMGC', 'latin1');
/** Bumped whenever the layout or the pixel pipeline (decode, resize, grey) changes, so old caches rebuild. */
const CACHE_VERSION = 1;

interface CacheHeader {
  version: number;
  source: string;
  height: number;
  width: number;
  channels: number;
  count: number;
  files: string[];
  skipped: SkippedFile[];
}

/** The cached set when `path` holds one for exactly this source digest and geometry; otherwise undefined. */
export function readImageCache(path: string, source: string, geometry: Pick<DecodeListOptions, 'height' | 'width' | 'channels'>): DecodedSet | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const fileBytes = fstatSync(fd).size;
    const prefix = Buffer.alloc(16);
    if (fileBytes < 16 || !readAll(fd, prefix, 0)) return undefined;
    if (!prefix.subarray(0, 8).equals(CACHE_MAGIC) || prefix.readUInt32LE(8) !== CACHE_VERSION) return undefined;
    const headerLength = prefix.readUInt32LE(12);
    if (16 + headerLength > fileBytes) return undefined;
    const json = Buffer.alloc(headerLength);
    if (!readAll(fd, json, 16)) return undefined;
    let header: CacheHeader;
    try {
      header = JSON.parse(json.toString('utf8'));
    } catch {
      return undefined;
    }
    const { height, width, channels } = geometry;
    if (header.version !== CACHE_VERSION || header.source !== source || header.height !== height || header.width !== width || header.channels !== channels) return undefined;
    const { count } = header;
    const labelsAt = 16 + headerLength;
    const imagesAt = labelsAt + count;
    if (fileBytes !== imagesAt + count * height * width * channels || header.files?.length !== count) return undefined;
    // Read into fresh arrays rather than readFileSync: a cache can pass the 2 GiB that one read returns.
    const labels = new Uint8Array(count);
    const images = new Uint8Array(count * height * width * channels);
    if (!readAll(fd, labels, labelsAt) || !readAll(fd, images, imagesAt)) return undefined;
    return { labels, images, files: header.files, count, height, width, channels, skippedFiles: header.skipped ?? [] };
  } finally {
    closeSync(fd);
  }
}

/** Fills `target` from `position`; false when the file ends first. Reads in 1 GiB steps (one read caps near 2 GiB). */
function readAll(fd: number, target: Uint8Array, position: number): boolean {
  for (let done = 0; done < target.length;) {
    const got = readSync(fd, target, done, Math.min(target.length - done, 1 << 30), position + done);
    if (got === 0) return false;
    done += got;
  }
  return true;
}

/** Writes through a temporary file and a rename, so a crash or a parallel reader never sees half a cache. */
export function writeImageCache(path: string, source: string, set: DecodedSet): void {
  const header: CacheHeader = {
    version: CACHE_VERSION, source, height: set.height, width: set.width, channels: set.channels, count: set.count,
    files: set.files, skipped: set.skippedFiles,
  };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const prefix = Buffer.alloc(16);
  CACHE_MAGIC.copy(prefix, 0);
  prefix.writeUInt32LE(CACHE_VERSION, 8);
  prefix.writeUInt32LE(json.length, 12);
  writeFileAtomic(path, [prefix, json, set.labels, set.images]);
}

export interface CachedDecodeOptions extends DecodeListOptions {
  /** Where the decoded set is kept; no caching when absent. */
  cacheFile?: string;
}

/**
 * decodeImageList through the cache: a valid cache is returned without decoding anything (its skipped files
 * are warned about again); a missing or stale one is rebuilt. A cache holding skipped files is not used
 * without `skipBad`, so that the load fails on the bad file as an uncached one would. Failing to write the
 * cache (read-only data directory) is a warning, not an error.
 */
export function decodeImageListCached(sources: ImageSource[], options: CachedDecodeOptions): DecodedSet & { fromCache: boolean } {
  const { cacheFile } = options;
  if (!cacheFile) return { ...decodeImageList(sources, options), fromCache: false };
  const source = sourceDigest(sources, options);
  const cached = readImageCache(cacheFile, source, options);
  if (cached && (options.skipBad || cached.skippedFiles.length === 0)) {
    for (const { reason } of cached.skippedFiles) options.onWarning?.(`skipped ${reason}`);
    return { ...cached, fromCache: true };
  }
  const decoded = decodeImageList(sources, options);
  try {
    writeImageCache(cacheFile, source, decoded);
  } catch (e) {
    options.onWarning?.(`${cacheFile}: cannot write the decode cache (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); the next run decodes again`);
  }
  return { ...decoded, fromCache: false };
}
