// Penultimate features and per-sample losses of a frozen reference model over the un-augmented training split,
// computed once and cached on disk: SALN (and learnability rules) then gather the candidates' rows each step
// instead of running a scoring forward, which costs a third of a step or more (the papers take features from a
// pretrained reference "to reduce computational load").
//
// The cache is keyed by a digest of the reference weights and one of the data (pixels, labels, shape) and the
// preprocessing, so a changed checkpoint, data set, condition or image size rebuilds it; a cache that does not
// parse is a one-line error naming the file (delete it to rebuild), never silently used.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Runtime } from '../gpu/runtime.ts';
import { Tensor } from '../tensor.ts';
import { Tape, Var } from '../autograd.ts';
import { crossEntropy } from '../nn/functional.ts';
import type { ResNetInstance } from '../nn/resnet.ts';
import { augmentBatch, uploadImages, type AugmentOptions } from '../ops/augment.ts';
import { gatherImages, type LabelledImages } from '../../datasets/images.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import { MODEL_FILE } from './checkpoint.ts';

const MAGIC = 'SALNFEAT1\n';

export interface ReferenceFeatures {
  /** Samples (rows) and feature width. */
  count: number;
  dim: number;
  /** [count * dim], row-major. */
  features: Float32Array;
  /** [count]: the reference model's cross-entropy on each sample (its "irreducible loss"). */
  losses: Float32Array;
  /** Where it was read from or written to. */
  file: string;
  /** True when read from an existing file (no forward was run). */
  cached: boolean;
}

export interface FeatureHeader {
  referenceDigest: string;
  dataDigest: string;
  count: number;
  dim: number;
}

/** The checkpoint file of a reference given as a directory (a run of saln train) or as the file itself. */
export function referenceModelFile(reference: string): string {
  return existsSync(reference) && statSync(reference).isDirectory() ? join(reference, MODEL_FILE) : reference;
}

export function digestFile(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** Pixels, labels, shape and the preprocessing that turns them into the network's input. */
export function digestData(data: LabelledImages, preprocess: Pick<AugmentOptions, 'resize' | 'mean' | 'std'>): string {
  const hash = createHash('sha256');
  hash.update(JSON.stringify({ count: data.count, h: data.height, w: data.width, c: data.channels, preprocess }));
  hash.update(data.images.subarray(0, data.count * data.height * data.width * data.channels));
  hash.update(data.labels.subarray(0, data.count));
  return hash.digest('hex');
}

export function encodeFeatureCache(header: FeatureHeader, features: Float32Array, losses: Float32Array): Uint8Array {
  if (features.length !== header.count * header.dim || losses.length !== header.count) throw new Error('feature cache: arrays do not match the header');
  const head = new TextEncoder().encode(JSON.stringify({ ...header, dtype: 'f32' }));
  // The arrays start on a 4-byte boundary so that they can be viewed without copying.
  const pad = (4 - ((MAGIC.length + 4 + head.length) % 4)) % 4;
  const offset = MAGIC.length + 4 + head.length + pad;
  const out = new Uint8Array(offset + 4 * (features.length + losses.length));
  out.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(out.buffer).setUint32(MAGIC.length, head.length + pad, true);
  out.set(head, MAGIC.length + 4);
  out.fill(0x20, MAGIC.length + 4 + head.length, offset);
  out.set(new Uint8Array(features.buffer, features.byteOffset, features.byteLength), offset);
  out.set(new Uint8Array(losses.buffer, losses.byteOffset, losses.byteLength), offset + features.byteLength);
  return out;
}

export function decodeFeatureCache(bytes: Uint8Array, file: string): { header: FeatureHeader; features: Float32Array; losses: Float32Array } {
  const fail = (why: string): never => { throw new Error(`${file}: corrupt reference-feature cache (${why}); delete it to rebuild`); };
  if (bytes.length < MAGIC.length + 4 || new TextDecoder().decode(bytes.subarray(0, MAGIC.length)) !== MAGIC) fail('bad magic');
  const headLength = new DataView(bytes.buffer, bytes.byteOffset).getUint32(MAGIC.length, true);
  const offset = MAGIC.length + 4 + headLength;
  if (offset > bytes.length) fail(`header of ${headLength} bytes overruns the file`);
  let header: FeatureHeader;
  try { header = JSON.parse(new TextDecoder().decode(bytes.subarray(MAGIC.length + 4, offset))); } catch { return fail('header is not JSON'); }
  const { count, dim } = header;
  if (!Number.isSafeInteger(count) || count < 0 || !Number.isSafeInteger(dim) || dim < 1) fail(`bad count ${count} or dim ${dim}`);
  const expected = offset + 4 * (count * dim + count);
  if (bytes.length !== expected) fail(`${bytes.length} bytes, expected ${expected} for ${count} x ${dim}`);
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
  const floats = new Float32Array(aligned.buffer, aligned.byteOffset + offset, count * dim + count);
  return { header, features: floats.subarray(0, count * dim), losses: floats.subarray(count * dim) };
}

/** Features [N, F] and losses [N] of `reference` over `data`, batch-norm on its running statistics. */
export async function computeReferenceFeatures(rt: Runtime, reference: ResNetInstance, data: LabelledImages, preprocess: Pick<AugmentOptions, 'resize' | 'mean' | 'std'>, batchSize = 256): Promise<{ dim: number; features: Float32Array; losses: Float32Array }> {
  let dim = 0;
  let features = new Float32Array(0);
  const losses = new Float32Array(data.count);
  for (let start = 0; start < data.count; start += batchSize) {
    const count = Math.min(batchSize, data.count - start);
    const { bytes, labels } = gatherImages(data, Array.from({ length: count }, (_, k) => start + k));
    const shape = { n: count, h: data.height, w: data.width, c: data.channels };
    // The batch's tensors (input, features, losses) are freed when its scope ends.
    const [f, l] = await rt.scope(async () => {
      const x = rt.scope(() => augmentBatch(rt, uploadImages(rt, bytes, shape), shape, preprocess, 0, 0));
      const labelTensor = Tensor.upload(rt, labels, [count], 'u32');
      const tape = new Tape(false);
      const ctx = { tape, store: reference.store, training: false };
      const pooled = reference.model.features(ctx, new Var(x, false));
      const ce = crossEntropy(tape, reference.model.fc.forward(ctx, pooled), labelTensor);
      tape.keep(pooled);
      tape.release();
      return await Promise.all([pooled.value.download(), ce.perSample.download()]) as Float32Array[];
    });
    if (start === 0) { dim = f.length / count; features = new Float32Array(data.count * dim); }
    features.set(f, start * dim);
    losses.set(l, start);
  }
  return { dim, features, losses };
}

/**
 * The cached features of `reference` (a checkpoint directory or file) over `data`: read from the cache file when
 * its digests match, else computed with `model` (already loaded with that checkpoint) and written atomically.
 */
export async function referenceFeatures(rt: Runtime, model: ResNetInstance, reference: string, data: LabelledImages, preprocess: Pick<AugmentOptions, 'resize' | 'mean' | 'std'>, cacheFile?: string): Promise<ReferenceFeatures> {
  const modelFile = referenceModelFile(reference);
  const referenceDigest = digestFile(modelFile);
  const dataDigest = digestData(data, preprocess);
  // Beside the reference by default: one file per data set (and condition) it has described.
  const file = cacheFile ?? join(dirname(modelFile), `features-${dataDigest.slice(0, 16)}.bin`);
  if (existsSync(file)) {
    const { header, features, losses } = decodeFeatureCache(readFileSync(file), file);
    if (header.referenceDigest === referenceDigest && header.dataDigest === dataDigest && header.count === data.count) {
      return { count: header.count, dim: header.dim, features, losses, file, cached: true };
    }
  }
  const { dim, features, losses } = await computeReferenceFeatures(rt, model, data, preprocess);
  writeFileAtomic(file, encodeFeatureCache({ referenceDigest, dataDigest, count: data.count, dim }, features, losses));
  return { count: data.count, dim, features, losses, file, cached: false };
}
