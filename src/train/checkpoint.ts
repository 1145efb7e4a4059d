// Checkpoints in safetensors with torchvision's names and layouts, so PyTorch users move weights both ways:
// model.safetensors holds exactly what `resnet18().state_dict()` holds (conv weights in OIHW), and
// trainer.safetensors the optimizer state and the position in training, for an exact resume. A checkpoint is
// committed in three atomic steps: the model goes to model.safetensors.next, then trainer.safetensors is
// replaced (the commit point), then the model is renamed into place. Both files carry the step, so a process
// killed between the last two is completed on load (roll forward) and one killed earlier leaves the previous
// checkpoint as it was; no kill can mix two states.
import { existsSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ParameterStore, TensorSpec } from '../nn/parameters.ts';
import { ohwiToOihw, oihwToOhwi } from '../ops/conv.ts';
import { parseTrainerMetadata, type CheckpointState } from './checkpoint-state.ts';

export type { CheckpointState };
import { readSafetensors, writeSafetensors, type SafetensorsFile, type TensorToWrite } from './safetensors.ts';

export const MODEL_FILE = 'model.safetensors';
export const TRAINER_FILE = 'trainer.safetensors';
const MODEL_NEXT = `${MODEL_FILE}.next`;

/** Our OHWI conv weights -> PyTorch's OIHW shape and data. */
function toTorch(spec: TensorSpec, data: Float32Array): TensorToWrite {
  if (spec.shape.length !== 4) return { shape: [...spec.shape], data };
  const [o, kh, kw, i] = spec.shape;
  return { shape: [o, i, kh, kw], data: ohwiToOihw(data, [o, i, kh, kw]) };
}

export async function modelTensors(store: ParameterStore): Promise<Map<string, TensorToWrite>> {
  const out = new Map<string, TensorToWrite>();
  for (const [name, { spec, data }] of await store.download()) out.set(name, toTorch(spec, data));
  return out;
}

export async function saveCheckpoint(dir: string, store: ParameterStore, optimizerState: Map<string, Float32Array>, state: CheckpointState): Promise<void> {
  const metadata = { format: 'saln-checkpoint-1', step: String(state.step), epoch: String(state.epoch), batchInEpoch: String(state.batchInEpoch), state: JSON.stringify(state.extra) };
  const optimizer = new Map<string, TensorToWrite>();
  for (const [name, data] of optimizerState) optimizer.set(name, { shape: [data.length], data });
  const model = await modelTensors(store);
  writeCheckpointFiles(dir, model, optimizer, metadata);
}

/** The commit protocol on host data (tests kill a process in the middle of it). */
export function writeCheckpointFiles(dir: string, model: Map<string, TensorToWrite>, optimizer: Map<string, TensorToWrite>, metadata: Record<string, string>): void {
  removeTemporaries(dir);
  writeSafetensors(join(dir, MODEL_NEXT), model, { format: 'pt', step: metadata.step });
  writeSafetensors(join(dir, TRAINER_FILE), optimizer, metadata);
  renameSync(join(dir, MODEL_NEXT), join(dir, MODEL_FILE));
}

/** Temp files of writes that a killed process left behind (the run lock keeps other writers out). */
function removeTemporaries(dir: string): void {
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir)) if (/^(model|trainer)\.safetensors(\.next)?\.tmp-\d+$/.test(name)) rmSync(join(dir, name), { force: true });
}

/**
 * Makes model.safetensors match trainer.safetensors after a kill between the commit point and the final rename;
 * a model.safetensors.next from an uncommitted write is dropped.
 */
export function recoverCheckpoint(dir: string): void {
  const next = join(dir, MODEL_NEXT), trainerPath = join(dir, TRAINER_FILE);
  if (!existsSync(next) || !existsSync(trainerPath)) return;
  const committed = readSafetensors(trainerPath).metadata.step;
  const modelPath = join(dir, MODEL_FILE);
  const current = existsSync(modelPath) ? readSafetensors(modelPath).metadata.step : undefined;
  if (current !== committed && readSafetensors(next).metadata.step === committed) renameSync(next, modelPath);
  else rmSync(next, { force: true });
}

export interface LoadedCheckpoint {
  state: CheckpointState;
  optimizer: Map<string, Float32Array>;
}

/** Both files of the checkpoint in `dir`, checked to be one state (after completing an interrupted commit). */
export function readCheckpoint(dir: string): { model: SafetensorsFile; trainer: SafetensorsFile } {
  const modelPath = join(dir, MODEL_FILE), trainerPath = join(dir, TRAINER_FILE);
  recoverCheckpoint(dir);
  for (const p of [modelPath, trainerPath]) if (!existsSync(p)) throw new Error(`resume: ${p} not found; pass the --out directory of an earlier run`);
  const trainer = readSafetensors(trainerPath);
  const model = readSafetensors(modelPath);
  if (model.metadata.step !== trainer.metadata.step) {
    throw new Error(`resume: ${modelPath} (step ${model.metadata.step}) and ${trainerPath} (step ${trainer.metadata.step}) disagree; the files come from two runs: delete the directory or resume from an older copy`);
  }
  return { model, trainer };
}

export function loadCheckpoint(dir: string, store: ParameterStore): LoadedCheckpoint {
  const { model, trainer } = readCheckpoint(dir);
  applyModelTensors(store, model.tensors, { strict: true, source: join(dir, MODEL_FILE) });
  const optimizer = new Map<string, Float32Array>();
  for (const [name, t] of trainer.tensors) optimizer.set(name, t.data);
  return {
    state: parseTrainerMetadata(trainer.metadata, join(dir, TRAINER_FILE)),
    optimizer,
  };
}

export interface ApplyOptions {
  strict: boolean;
  source: string;
  /** Tensors allowed to differ in shape and then left at their initial values (a replaced classifier). */
  replace?: (name: string) => boolean;
  /** Converts a tensor whose shape differs before it is checked (e.g. RGB stem filters summed for 1 channel). */
  adapt?: (name: string, shape: number[], data: Float32Array) => { shape: number[]; data: Float32Array } | null;
}

/**
 * Copies torchvision-named tensors (PyTorch layouts) into the store. Missing, unexpected and mis-shaped tensors
 * are all collected and reported in one error that lists them.
 */
export function applyModelTensors(store: ParameterStore, tensors: Map<string, { shape: number[]; data: Float32Array }>, options: ApplyOptions): string[] {
  const missing: string[] = [], unexpected: string[] = [], misshaped: string[] = [], replaced: string[] = [];
  const updates: [string, Float32Array][] = [];
  for (const spec of store.specs) {
    let tensor = tensors.get(spec.name);
    if (!tensor) {
      // A checkpoint without the counter is still a complete model (older PyTorch, other exporters).
      if (!spec.name.endsWith('num_batches_tracked')) missing.push(spec.name);
      continue;
    }
    const expected = spec.shape.length === 4 ? [spec.shape[0], spec.shape[3], spec.shape[1], spec.shape[2]] : spec.shape;
    if (tensor.shape.join() !== expected.join() && options.adapt) tensor = options.adapt(spec.name, tensor.shape, tensor.data) ?? tensor;
    if (tensor.shape.join() !== expected.join()) {
      if (options.replace?.(spec.name)) { replaced.push(spec.name); continue; }
      misshaped.push(`${spec.name} [${tensor.shape}] (expected [${expected}])`);
      continue;
    }
    const data = spec.shape.length === 4 ? oihwToOhwi(tensor.data, expected) : tensor.data;
    updates.push([spec.name, data]);
  }
  for (const name of tensors.keys()) if (!store.has(name)) unexpected.push(name);
  const problems = [
    missing.length ? `missing ${missing.length}: ${missing.slice(0, 8).join(', ')}${missing.length > 8 ? ', ...' : ''}` : '',
    unexpected.length ? `unexpected ${unexpected.length}: ${unexpected.slice(0, 8).join(', ')}${unexpected.length > 8 ? ', ...' : ''}` : '',
    misshaped.length ? `mis-shaped ${misshaped.length}: ${misshaped.slice(0, 8).join(', ')}${misshaped.length > 8 ? ', ...' : ''}` : '',
  ].filter(Boolean);
  if (problems.length > 0 && (options.strict || misshaped.length > 0 || missing.length > 0)) {
    throw new Error(`${options.source} does not fit this model: ${problems.join('; ')}`);
  }
  for (const [name, data] of updates) store.upload(name, data);
  return replaced;
}
