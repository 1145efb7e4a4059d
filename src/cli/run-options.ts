// What `saln train` and `saln compare` share: their flags, the configuration built from them, and the data.
import { UsageError } from '../util/args.ts';
import { batchesPerEpoch, type Progress, type SelectionConfig, type TrainConfig } from '../train/trainer.ts';
import { makeSchedule, SCHEDULE_NAMES, type LrSchedule } from '../train/schedule.ts';
import { loadTrainData, DATASETS, type LoadedTrainData } from '../../datasets/registry.ts';
import { parseAugment } from './augment.ts';
import { ProgressBar } from '../util/progress.ts';
import { createSelector, SELECTOR_NAMES } from '../select/registry.ts';
import { existsSync, statSync } from 'node:fs';

/** Flags shared by `train` and `compare`. */
export const RUN_OPTIONS = {
  dataset: { type: 'string', default: 'fashion-mnist' }, 'data-dir': { type: 'string' }, limit: { type: 'string' }, 'test-limit': { type: 'string' },
  model: { type: 'string', default: 'resnet18' }, stem: { type: 'string', default: 'imagenet' }, width: { type: 'string', default: '1' }, pretrained: { type: 'string' },
  epochs: { type: 'string', default: '1' }, 'batch-size': { type: 'string', default: '64' }, optimizer: { type: 'string', default: 'adamw' }, lr: { type: 'string' },
  schedule: { type: 'string', default: 'onecycle' }, 'warmup-steps': { type: 'string', default: '0' }, momentum: { type: 'string', default: '0.9' },
  'no-nesterov': { type: 'boolean' }, 'weight-decay': { type: 'string' }, 'label-smoothing': { type: 'string', default: '0' }, 'clip-norm': { type: 'string', default: '0' },
  augment: { type: 'string' }, 'image-size': { type: 'string' }, 'skip-bad': { type: 'boolean' }, seed: { type: 'string', default: '0' }, out: { type: 'string' }, resume: { type: 'string' }, 'eval-batch-size': { type: 'string', default: '256' },
  inject: { type: 'string' }, 'checkpoint-every': { type: 'string', default: '200' }, profile: { type: 'boolean' },
  selector: { type: 'string', default: 'none' }, keep: { type: 'string', default: '0.5' },
  'selector-option': { type: 'string', multiple: true }, reference: { type: 'string' }, 'keep-end': { type: 'string' },
  'select-warmup': { type: 'string', default: '0' }, 'keep-ramp': { type: 'string', default: '0' }, 'scoring-stats': { type: 'string', default: 'batch' },
  'reference-scores': { type: 'string', default: 'cached' }, 'feature-cache': { type: 'string' },
} as const;

type NumberRule = 'positiveInteger' | 'nonNegativeInteger' | 'nonNegative' | 'positive' | 'fraction';
const RULES: Record<NumberRule, [string, (x: number) => boolean]> = {
  positiveInteger: ['a positive integer', (x) => Number.isSafeInteger(x) && x > 0],
  nonNegativeInteger: ['a non-negative integer', (x) => Number.isSafeInteger(x) && x >= 0],
  positive: ['a positive number', (x) => x > 0],
  fraction: ['a number in [0, 1)', (x) => x >= 0 && x < 1],
  nonNegative: ['a non-negative number', (x) => x >= 0],
};
// Number() also reads '', '0x10', '0b1' and ' 1 '; a flag's value counts only when written as a decimal number.
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

export function numberFlag(command: string, flag: string, text: string | undefined, rule: NumberRule): number {
  const value = text !== undefined && DECIMAL.test(text) ? Number(text) : NaN;
  const [wanted, accepts] = RULES[rule];
  if (!(Number.isFinite(value) && accepts(value))) throw new UsageError(`${command}: --${flag} must be ${wanted}, got '${text}'`);
  return value;
}

/** `--selector-option key=value` pairs; numbers and booleans become numbers and booleans. */
export function parseSelectorOptions(pairs: string[]): Record<string, unknown> {
  const options: Record<string, unknown> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new UsageError(`--selector-option takes key=value, got '${pair}'`);
    const key = pair.slice(0, at), text = pair.slice(at + 1);
    options[key] = text === 'true' ? true : text === 'false' ? false : text.trim() !== '' && Number.isFinite(Number(text)) ? Number(text) : text;
  }
  return options;
}

type Flags = { [K in keyof typeof RUN_OPTIONS]?: typeof RUN_OPTIONS[K] extends { multiple: true } ? string[] : typeof RUN_OPTIONS[K] extends { type: 'boolean' } ? boolean : string };

/** The training configuration the flags describe (the data-dependent fields are filled by applyData). */
export function configFromFlags(command: string, values: Flags): TrainConfig {
  checkRunFlags(command, values);
  const number = (flag: string, text: string | undefined, rule: Parameters<typeof numberFlag>[3]) => numberFlag(command, flag, text, rule);
  const optimizer = values.optimizer === 'sgd' || values.optimizer === 'adamw' ? values.optimizer : (() => { throw new UsageError(`${command}: --optimizer must be sgd or adamw, got '${values.optimizer}'`); })();
  const stem = values.stem === 'imagenet' || values.stem === 'cifar' ? values.stem : (() => { throw new UsageError(`${command}: --stem must be imagenet or cifar, got '${values.stem}'`); })();
  const config: TrainConfig = {
    model: { stem, width: number('width', values.width, 'positive'), inChannels: 0, classes: 0 },
    epochs: number('epochs', values.epochs, 'positiveInteger'),
    batchSize: number('batch-size', values['batch-size'], 'positiveInteger'),
    evalBatchSize: number('eval-batch-size', values['eval-batch-size'], 'positiveInteger'),
    optimizer,
    // Defaults measured on Fashion-MNIST (1 epoch, 10,000 images, one-cycle): AdamW 2e-3 84.6% test accuracy,
    // 3e-3 84.1%, 1e-3 83.8%; SGD+Nesterov 0.05 80.9%, 0.2 74.2%.
    lr: values.lr !== undefined ? number('lr', values.lr, 'positive') : optimizer === 'sgd' ? 0.05 : 0.002,
    momentum: number('momentum', values.momentum, 'fraction'),
    nesterov: !values['no-nesterov'],
    weightDecay: values['weight-decay'] !== undefined ? number('weight-decay', values['weight-decay'], 'nonNegative') : optimizer === 'sgd' ? 5e-4 : 0.01,
    labelSmoothing: number('label-smoothing', values['label-smoothing'], 'fraction'),
    clipNorm: number('clip-norm', values['clip-norm'], 'nonNegative'),
    seed: number('seed', values.seed, 'nonNegative'),
    augment: {}, mean: [], std: [],
  };
  if (!Number.isInteger(config.seed)) throw new UsageError(`${command}: --seed must be an integer, got '${values.seed}'`);
  if (values.selector !== 'none') {
    const keep = keepFlag(command, 'keep', values.keep)!;
    const keepEnd = keepFlag(command, 'keep-end', values['keep-end']);
    config.selection = { selector: values.selector!, options: parseSelectorOptions(values['selector-option'] ?? []), keep, keepEnd, reference: values.reference, ...selectionSchedule(command, values) };
  }
  return config;
}

/** The selection settings beyond selector and keep: warm-up, ramp, scoring statistics, reference scores. */
export function selectionSchedule(command: string, values: Flags): Pick<SelectionConfig, 'warmupSteps' | 'rampSteps' | 'scoringStats' | 'referenceScores' | 'featureCache'> {
  const scoringStats = values['scoring-stats'] ?? 'batch';
  if (scoringStats !== 'batch' && scoringStats !== 'running') throw new UsageError(`${command}: --scoring-stats must be batch or running, got '${scoringStats}'`);
  const referenceScores = values['reference-scores'] ?? 'cached';
  if (referenceScores !== 'cached' && referenceScores !== 'forward') throw new UsageError(`${command}: --reference-scores must be cached or forward, got '${referenceScores}'`);
  return {
    warmupSteps: numberFlag(command, 'select-warmup', values['select-warmup'] ?? '0', 'nonNegativeInteger'),
    rampSteps: numberFlag(command, 'keep-ramp', values['keep-ramp'] ?? '0', 'nonNegativeInteger'),
    scoringStats, referenceScores, featureCache: values['feature-cache'],
  };
}

/** The help lines of the selection flags that train and compare share. */
export const SELECTION_SCHEDULE_HELP = `  --select-warmup N       train on whole super-batches for the first N steps, then select (default 0)
  --keep-ramp N           after the warm-up, move the kept fraction from 1 to --keep over N steps (default 0)
  --scoring-stats S       batch-norm in the learner's scoring forward: batch (the super-batch's statistics, running
                          ones untouched; default) or running (evaluation mode)
  --reference-scores S    cached (default: the reference's features and losses computed once over the
                          un-augmented training split, cached beside the reference) or forward (every super-batch)
  --feature-cache FILE    where the reference's features are cached (default: beside the reference checkpoint)`;

/** A keep ratio in (0, 1]; undefined when the flag is absent. */
export function keepFlag(command: string, flag: 'keep' | 'keep-end', text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const keep = numberFlag(command, flag, text, 'positive');
  if (keep > 1) throw new UsageError(`${command}: --${flag} must lie in (0, 1], got '${text}'`);
  return keep;
}

/**
 * Every flag that names something (data set, schedule, selector, augmentation, a path) or holds a number, checked
 * before any data is read or the GPU is touched, so that a typo costs nothing and exits 2 with the usage line.
 */
export function checkRunFlags(command: string, values: Flags): void {
  const fail = (problem: string): never => { throw new UsageError(`${command}: ${problem}`); };
  const choice = (what: string, value: string | undefined, allowed: readonly string[]) => {
    if (value !== undefined && !allowed.includes(value)) fail(`unknown ${what} '${value}'; available: ${allowed.join(', ')}`);
  };
  choice('model', values.model, ['resnet18']);
  choice('dataset', values.dataset, DATASETS);
  choice('LR schedule', values.schedule, SCHEDULE_NAMES);
  choice('optimizer', values.optimizer, ['sgd', 'adamw']);
  choice('stem', values.stem, ['imagenet', 'cifar']);
  choice('selector', values.selector, SELECTOR_NAMES);
  const counts: [keyof Flags, NumberRule][] = [
    ['limit', 'positiveInteger'], ['test-limit', 'positiveInteger'], ['image-size', 'positiveInteger'], ['epochs', 'positiveInteger'],
    ['batch-size', 'positiveInteger'], ['eval-batch-size', 'positiveInteger'], ['warmup-steps', 'nonNegativeInteger'], ['checkpoint-every', 'nonNegativeInteger'],
    ['select-warmup', 'nonNegativeInteger'], ['keep-ramp', 'nonNegativeInteger'],
  ];
  selectionSchedule(command, values);
  for (const [flag, rule] of counts) if (values[flag] !== undefined) numberFlag(command, flag, values[flag] as string, rule);
  // Checked with or without a selector: a ratio of 0 or 1.5 is a mistake even where it is not used.
  keepFlag(command, 'keep', values.keep);
  keepFlag(command, 'keep-end', values['keep-end']);
  for (const item of (values.augment ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    choice('augmentation', item, ['flip', 'crop', 'rotate', 'jitter', 'none']);
  }
  if (values.selector !== undefined && values.selector !== 'none') {
    try {
      createSelector(values.selector, parseSelectorOptions(values['selector-option'] ?? []));
    } catch (e) {
      fail(`--selector ${values.selector}: ${(e as Error).message}`);
    }
  }
  for (const flag of ['reference', 'pretrained'] as const) {
    if (values[flag] !== undefined && !existsSync(values[flag]!)) fail(`--${flag} ${values[flag]} does not exist`);
  }
  checkDataDir(command, values['data-dir']);
}

function checkDataDir(command: string, dir: string | undefined): void {
  if (dir === undefined) return;
  if (!existsSync(dir)) throw new UsageError(`${command}: --data-dir ${dir} does not exist`);
  if (!statSync(dir).isDirectory()) throw new UsageError(`${command}: --data-dir ${dir} is not a directory`);
}

export function loadDataFromFlags(datasetName: string, values: Flags, limit: number | undefined, resuming = false, command = 'train'): LoadedTrainData {
  const number = (flag: string, text: string | undefined, rule: Parameters<typeof numberFlag>[3]) => numberFlag(command, flag, text, rule);
  checkDataDir(command, values['data-dir']);
  const testLimit = values['test-limit'] !== undefined ? number('test-limit', values['test-limit'], 'positiveInteger') : undefined;
  const imageSize = values['image-size'] !== undefined ? number('image-size', values['image-size'], 'positiveInteger') : undefined;
  let decodeBar: ProgressBar | null = null;
  return loadTrainData(datasetName, {
    dir: values['data-dir'], limit, testLimit, augment: resuming || values.augment === undefined ? undefined : parseAugment(values.augment), imageSize, skipBad: values['skip-bad'],
    onWarning: (message) => process.stderr.write(`warning: ${message}\n`),
    onProgress: (done, total) => {
      decodeBar ??= new ProgressBar({ total, label: 'decoding images', unit: 'img' });
      decodeBar.update(done);
      if (done >= total) { decodeBar.finish(); decodeBar = null; }
    },
  });
}

/** Fills the fields that come from the data: channels, classes, augmentation, normalisation. */
export function applyData(config: TrainConfig, data: LoadedTrainData): void {
  config.model.inChannels = data.train.channels;
  config.model.classes = data.train.classes.length;
  config.augment = data.augment;
  config.mean = data.mean;
  config.std = data.std;
}

/** The LR schedule of a run: `name` over every step of its epochs (step decay: three drops). */
export function scheduleFor(name: string, config: TrainConfig, trainCount: number, warmupSteps: number): LrSchedule {
  const totalSteps = config.epochs * batchesPerEpoch(trainCount, config.batchSize);
  return makeSchedule(name, { lr: config.lr, totalSteps, warmupSteps, stepSize: Math.max(1, Math.floor(totalSteps / 3)) });
}

/**
 * A progress bar per epoch on stderr, and a log that writes through the bar while one is on a terminal (so a
 * message does not land on the bar's line).
 */
export function terminalReporting(): { log: (line: string) => void; progress: Progress } {
  let bar: ProgressBar | null = null;
  return {
    log: (line) => { if (bar) bar.log(line); else process.stderr.write(`${line}\n`); },
    progress: {
      start: (total, label) => { bar = new ProgressBar({ total, label, unit: 'batch' }); },
      update: (done, fields) => bar?.update(done, fields),
      stop: () => { bar?.finish(); bar = null; },
    },
  };
}

export { DATASETS };
