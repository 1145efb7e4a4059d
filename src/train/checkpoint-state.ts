// What --resume reads from trainer.safetensors' metadata (the position in training and the settings of the run),
// checked before anything is built from it: a damaged or hand-edited checkpoint would otherwise resume at step
// NaN, or with a batch size of "abc", and fail far from the cause. Every error is one line naming the file.
import type { TrainConfig } from './config.ts';
import { DATASETS } from '../../datasets/registry.ts';
import { SCHEDULE_NAMES } from './schedule.ts';

/** Where a run stopped, with what it needs to resume (the trainer file's metadata). */
export interface CheckpointState {
  /** Optimizer step count (the next step to run is step + 1). */
  step: number;
  epoch: number;
  /** Batches of `epoch` already trained on (0 at an epoch boundary). */
  batchInEpoch: number;
  /** Anything else needed to resume, as JSON (configuration, metrics so far). */
  extra: Record<string, unknown>;
}

export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

export const TRAINER_FORMAT = 'saln-checkpoint-1';

/** The run settings the CLI stores beside the configuration (TrainerState.extra), for `saln train --resume`. */
export interface SavedRun {
  config: TrainConfig;
  dataset: string;
  /** The --limit of the original run (absent: every sample). */
  limit?: number;
  schedule: string;
  warmupSteps: number;
}

export type Fail = (problem: string) => never;

function failer(file: string): Fail {
  return (problem) => {
    throw new CheckpointError(`${file}: ${problem}`);
  };
}

/** Echoes a bad value in a message without letting a huge, deep or multi-line one through. */
export function shortValue(value: unknown): string {
  // Not JSON.stringify on containers: a deeply nested array from a damaged file overflows the stack.
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'object' && value !== null) return 'an object';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  return String(value);
}

function counter(metadata: Record<string, string>, key: string, fail: Fail): number {
  const text = metadata[key];
  if (typeof text !== 'string' || !/^(0|[1-9][0-9]{0,15})$/.test(text) || !Number.isSafeInteger(Number(text))) {
    fail(`metadata '${key}' must be a non-negative integer, got ${shortValue(text)}; the checkpoint is damaged`);
  }
  return Number(text);
}

/** The position in training and the extra state of a trainer checkpoint's metadata. */
export function parseTrainerMetadata(metadata: Record<string, string>, file: string): CheckpointState {
  const fail = failer(file);
  if (metadata.format !== TRAINER_FORMAT) fail(`not a saln trainer checkpoint (format ${shortValue(metadata.format)}, expected '${TRAINER_FORMAT}')`);
  const step = counter(metadata, 'step', fail);
  const epoch = counter(metadata, 'epoch', fail);
  const batchInEpoch = counter(metadata, 'batchInEpoch', fail);
  let extra: unknown = {};
  if (metadata.state !== undefined) {
    try {
      extra = JSON.parse(metadata.state);
    } catch (e) {
      // JSON.parse quotes the text it failed on, which may hold anything.
      // eslint-disable-next-line no-control-regex
      fail(`metadata 'state' is not JSON (${(e as Error).message.replace(/\s+/g, ' ').replace(/[\u0000-\u001f\u007f]/g, '?').slice(0, 160)})`);
    }
  }
  if (!isObject(extra)) fail(`metadata 'state' is not a JSON object`);
  return { step, epoch, batchInEpoch, extra: extra as Record<string, unknown> };
}

/** What `saln train --resume` rebuilds the run from; every field checked as the CLI's flags would be. */
export function parseSavedRun(extra: Record<string, unknown>, file: string): SavedRun {
  const fail = failer(file);
  if (extra.config === undefined) fail('carries no run settings (saved by an older saln, or not by saln train)');
  const config = checkConfig(extra.config, fail);
  const names = { datasets: DATASETS as readonly string[], schedules: SCHEDULE_NAMES as readonly string[] };
  const { dataset, limit, schedule, warmupSteps } = extra;
  if (typeof dataset !== 'string' || !names.datasets.includes(dataset)) fail(`saved dataset ${shortValue(dataset)} is not one of ${names.datasets.join(', ')}`);
  if (limit !== undefined && limit !== null && !positiveInteger(limit)) fail(`saved limit ${shortValue(limit)} is not a positive integer`);
  if (typeof schedule !== 'string' || !names.schedules.includes(schedule)) fail(`saved schedule ${shortValue(schedule)} is not one of ${names.schedules.join(', ')}`);
  if (!(Number.isSafeInteger(warmupSteps) && (warmupSteps as number) >= 0)) fail(`saved warmupSteps ${shortValue(warmupSteps)} is not a non-negative integer`);
  return { config, dataset: dataset as string, limit: (limit ?? undefined) as number | undefined, schedule: schedule as string, warmupSteps: warmupSteps as number };
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const finite = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);
const positiveInteger = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) > 0;

/** A saved TrainConfig, every field checked as the CLI's flags would be (also what `saln eval` trusts). */
export function checkConfig(value: unknown, fail: Fail): TrainConfig {
  if (!isObject(value)) fail('saved config is not an object');
  const c = value as Record<string, unknown>;
  const field = (name: string, ok: (v: unknown) => boolean, rule: string, optional = false) => {
    if (optional && c[name] === undefined) return;
    if (!ok(c[name])) fail(`saved config.${name} ${shortValue(c[name])} is not ${rule}`);
  };
  const model = c.model;
  if (!isObject(model)) fail('saved config.model is not an object');
  const m = model as Record<string, unknown>;
  if (m.stem !== 'imagenet' && m.stem !== 'cifar') fail(`saved config.model.stem ${shortValue(m.stem)} is not imagenet or cifar`);
  if (!(finite(m.width) && m.width > 0)) fail(`saved config.model.width ${shortValue(m.width)} is not a positive number`);
  if (!positiveInteger(m.inChannels)) fail(`saved config.model.inChannels ${shortValue(m.inChannels)} is not a positive integer`);
  if (!(positiveInteger(m.classes) && m.classes >= 2)) fail(`saved config.model.classes ${shortValue(m.classes)} is not an integer of at least 2`);
  field('epochs', positiveInteger, 'a positive integer');
  field('batchSize', positiveInteger, 'a positive integer');
  field('evalBatchSize', positiveInteger, 'a positive integer', true);
  field('optimizer', (v) => v === 'sgd' || v === 'adamw', 'sgd or adamw');
  field('lr', (v) => finite(v) && v > 0, 'a positive number');
  field('momentum', (v) => finite(v) && v >= 0 && v < 1, 'a number in [0, 1)', true);
  field('nesterov', (v) => typeof v === 'boolean', 'true or false', true);
  field('weightDecay', (v) => finite(v) && v >= 0, 'a non-negative number', true);
  field('labelSmoothing', (v) => finite(v) && v >= 0 && v < 1, 'a number in [0, 1)', true);
  field('clipNorm', (v) => finite(v) && v >= 0, 'a non-negative number', true);
  field('seed', (v) => Number.isSafeInteger(v) && (v as number) >= 0, 'a non-negative integer');
  field('augment', isObject, 'an object', true);
  const channels = m.inChannels as number;
  field('mean', (v) => Array.isArray(v) && v.length === channels && v.every(finite), `${channels} numbers`);
  field('std', (v) => Array.isArray(v) && v.length === channels && v.every((s) => finite(s) && s > 0), `${channels} positive numbers`);
  if (c.selection !== undefined && c.selection !== null) {
    const s = c.selection;
    if (!isObject(s)) fail('saved config.selection is not an object');
    const sel = s as Record<string, unknown>;
    // The name itself is checked where the selector is built (the registry pulls in the GPU modules).
    if (typeof sel.selector !== 'string' || sel.selector === '') fail(`saved selector ${shortValue(sel.selector)} is not a name`);
    if (!isObject(sel.options)) fail('saved config.selection.options is not an object');
    const fraction = (v: unknown) => finite(v) && v > 0 && v <= 1;
    if (!fraction(sel.keep)) fail(`saved keep ratio ${shortValue(sel.keep)} does not lie in (0, 1]`);
    if (sel.keepEnd !== undefined && !fraction(sel.keepEnd)) fail(`saved keep-end ratio ${shortValue(sel.keepEnd)} does not lie in (0, 1]`);
    if (sel.reference !== undefined && typeof sel.reference !== 'string') fail(`saved reference ${shortValue(sel.reference)} is not a path`);
  }
  return value as unknown as TrainConfig;
}
