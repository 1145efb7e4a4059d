// What `saln train` and `saln compare` share: their flags, the configuration built from them, and the data.
import { UsageError } from './args.ts';
import { batchesPerEpoch, type Progress, type TrainConfig } from '../train/trainer.ts';
import { makeSchedule, type LrSchedule } from '../train/schedule.ts';
import { loadTrainData, DATASETS, type LoadedTrainData } from '../train/data.ts';
import { ProgressBar } from '../train/progress.ts';

/** Flags shared by `train` and `compare`. */
export const RUN_OPTIONS = {
  dataset: { type: 'string', default: 'fashion-mnist' }, 'data-dir': { type: 'string' }, limit: { type: 'string' }, 'test-limit': { type: 'string' },
  model: { type: 'string', default: 'resnet18' }, stem: { type: 'string', default: 'imagenet' }, width: { type: 'string', default: '1' }, pretrained: { type: 'string' },
  epochs: { type: 'string', default: '1' }, 'batch-size': { type: 'string', default: '64' }, optimizer: { type: 'string', default: 'adamw' }, lr: { type: 'string' },
  schedule: { type: 'string', default: 'onecycle' }, 'warmup-steps': { type: 'string', default: '0' }, momentum: { type: 'string', default: '0.9' },
  'no-nesterov': { type: 'boolean' }, 'weight-decay': { type: 'string' }, 'label-smoothing': { type: 'string', default: '0' }, 'clip-norm': { type: 'string', default: '0' },
  augment: { type: 'string' }, 'image-size': { type: 'string' }, 'skip-bad': { type: 'boolean' }, seed: { type: 'string', default: '0' }, out: { type: 'string' }, resume: { type: 'string' }, 'eval-batch-size': { type: 'string', default: '256' },
  'poison-step': { type: 'string' }, profile: { type: 'boolean' },
  selector: { type: 'string', default: 'none' }, keep: { type: 'string', default: '0.5' },
  'selector-option': { type: 'string', multiple: true }, reference: { type: 'string' }, 'keep-end': { type: 'string' },
} as const;

export function numberFlag(command: string, flag: string, text: string | undefined, rule: 'positiveInteger' | 'nonNegative' | 'positive' | 'fraction'): number {
  const value = Number(text);
  const ok = text !== undefined && text.trim() !== '' && Number.isFinite(value) && (
    rule === 'positiveInteger' ? Number.isInteger(value) && value > 0
      : rule === 'positive' ? value > 0 : rule === 'fraction' ? value >= 0 && value < 1 : value >= 0);
  if (!ok) throw new UsageError(`${command}: --${flag} must be ${rule === 'positiveInteger' ? 'a positive integer' : rule === 'positive' ? 'a positive number' : rule === 'fraction' ? 'a number in [0, 1)' : 'a non-negative number'}, got '${text}'`);
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
    const keep = number('keep', values.keep, 'positive');
    if (keep > 1) throw new UsageError(`${command}: --keep must lie in (0, 1], got '${values.keep}'`);
    const keepEnd = values['keep-end'] !== undefined ? number('keep-end', values['keep-end'], 'positive') : undefined;
    if (keepEnd !== undefined && keepEnd > 1) throw new UsageError(`${command}: --keep-end must lie in (0, 1], got '${values['keep-end']}'`);
    config.selection = { selector: values.selector!, options: parseSelectorOptions(values['selector-option'] ?? []), keep, keepEnd, reference: values.reference };
  }
  return config;
}

export function loadDataFromFlags(datasetName: string, values: Flags, limit: number | undefined, resuming = false): LoadedTrainData {
  const number = (flag: string, text: string | undefined, rule: Parameters<typeof numberFlag>[3]) => numberFlag('train', flag, text, rule);
  const testLimit = values['test-limit'] !== undefined ? number('test-limit', values['test-limit'], 'positiveInteger') : undefined;
  const imageSize = values['image-size'] !== undefined ? number('image-size', values['image-size'], 'positiveInteger') : undefined;
  let decodeBar: ProgressBar | null = null;
  return loadTrainData(datasetName, {
    dir: values['data-dir'], limit, testLimit, augment: resuming ? undefined : values.augment, imageSize, skipBad: values['skip-bad'],
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
