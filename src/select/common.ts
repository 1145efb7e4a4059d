// What the baseline selectors share: the checks on a selection input, reading its [B] vectors back from the GPU,
// the deterministic top-k, and the random stream of a selection step.
import { CpuRandom } from '../rng.ts';
import type { Tensor } from '../tensor.ts';
import type { SelectionInput } from './types.ts';

/**
 * Selection draws use streams whose high 32-bit word is this tag. The trainer's other CPU and GPU draws (epoch
 * shuffles 0x5a1e0000 + epoch, augmentation step + 1, initialisation 1000 + layer) all have a high word of 0, so a
 * selection never reuses their random words under the same seed.
 */
const SELECTION_STREAM_TAG = 0x5e1;

/** The generator of selection step `step`: the same (seed, step) replays the same draws, a resumed run included. */
export function selectionRandom(seed: number, step: number): CpuRandom {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`selection seed must be a non-negative integer, got ${seed}`);
  if (!Number.isInteger(step) || step < 0 || step >= 2 ** 32) throw new Error(`selection step must be an integer in [0, 2^32), got ${step}`);
  return new CpuRandom(seed, SELECTION_STREAM_TAG * 2 ** 32 + step);
}

/** Throws a one-line error unless batchSize, keep, seed and step are usable. */
export function checkSelectionInput(selector: string, input: SelectionInput): void {
  const { batchSize, keep, seed, step } = input;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`${selector} selector: batchSize must be a positive integer, got ${batchSize}`);
  if (!Number.isInteger(keep) || keep < 1 || keep > batchSize) {
    throw new Error(`${selector} selector: keep must be an integer in [1, ${batchSize}] (the batch size), got ${keep}`);
  }
  if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`${selector} selector: seed must be a non-negative integer, got ${seed}`);
  if (!Number.isInteger(step) || step < 0 || step >= 2 ** 32) throw new Error(`${selector} selector: step must be an integer in [0, 2^32), got ${step}`);
}

type VectorField = 'learnerLoss' | 'referenceLoss';

/**
 * Downloads the [B] f32 vector `field` of the input. A missing, mis-sized or non-f32 tensor, or a NaN or infinite
 * entry (which would make a ranking meaningless), is a one-line error naming the selector and the field.
 */
export async function readLossVector(selector: string, input: SelectionInput, field: VectorField): Promise<Float32Array> {
  const tensor = input[field];
  if (!tensor) throw new Error(`${selector} selector needs ${field} ([${input.batchSize}] f32) in its input`);
  checkTensor(selector, field, tensor, input.batchSize, 'f32');
  const values = await tensor.download() as Float32Array;
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) throw new Error(`${selector} selector: ${field}[${i}] is ${values[i]}; losses must be finite`);
  }
  return values;
}

/** Throws unless `tensor` holds `size` elements of `dtype`. */
export function checkTensor(selector: string, field: string, tensor: Tensor, size: number, dtype: Tensor['dtype']): void {
  if (tensor.dtype !== dtype) throw new Error(`${selector} selector: ${field} must be ${dtype}, got ${tensor.dtype}`);
  if (tensor.size !== size) throw new Error(`${selector} selector: ${field} has ${tensor.size} elements [${tensor.shape.join(', ')}], expected ${size}`);
}

/**
 * The `k` best of `candidates` by `scores` (higher first), ties to the lower index, in ranked order. The
 * comparator is a total order on distinct indices, so the result does not depend on the sort algorithm.
 */
export function rankTopK(scores: ArrayLike<number>, k: number, candidates?: ArrayLike<number>): number[] {
  const pool = candidates ? Array.from(candidates) : Array.from({ length: scores.length }, (_, i) => i);
  pool.sort((a, b) => (scores[b] > scores[a] ? 1 : scores[b] < scores[a] ? -1 : a - b));
  return pool.slice(0, k);
}

/** Indices as the ascending Uint32Array a SelectionResult carries. */
export function ascending(indices: ArrayLike<number>): Uint32Array {
  return Uint32Array.from(indices).sort();
}
