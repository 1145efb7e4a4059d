// A study is conditions x arms x keep ratios x seeds. This file expands a preset into its runs, each named by
// the hash of its full settings: a run's directory is its id, so an interrupted study resumes where it stopped,
// adding an arm reruns nothing else, and any scheduler (a Slurm array, Kubernetes Jobs, GNU parallel) can run
// runs by id into one shared directory.
import { settingsHash } from '../util/settings-hash.ts';

export { canonicalJson, settingsHash } from '../util/settings-hash.ts';

/** One way of training, compared inside every condition. */
export interface Arm {
  /** What the tables call it. */
  label: string;
  selector: string;
  options: Record<string, unknown>;
  /**
   * For `none`: 'steps' trains on every image of every step (the same steps as the selectors), 'images' stops
   * after the images a selector back-propagates, its LR schedule compressed to those steps.
   */
  control?: 'steps' | 'images';
  /** Selection warm-up and ramp (steps), for the filtering-schedule arms. */
  warmupSteps?: number;
  rampSteps?: number;
}

export interface StudyPreset {
  name: string;
  description: string;
  dataset: string;
  /** Learner's training images (the first ones), reference's held-out images (the next ones), test images. */
  limit: number;
  referenceLimit: number;
  testLimit: number;
  width: number;
  stem: 'imagenet' | 'cifar';
  epochs: number;
  referenceEpochs: number;
  /** The super-batch: every selector sees this many candidates and keeps keep * batchSize. */
  batchSize: number;
  lr: number;
  evalEvery: number;
  evalSubset: number;
  target: number;
  conditions: string[];
  arms: Arm[];
  keeps: number[];
  seeds: number[];
}

export interface StudyRun {
  id: string;
  condition: string;
  arm: Arm;
  /** 1 for the arms that select nothing (none at the same steps): one run serves every keep ratio. */
  keep: number;
  seed: number;
  /** Everything the run's result depends on (its id is the hash of this). */
  settings: Record<string, unknown>;
}

const REFERENCE_ARMS_OPTIONS = { featureSource: 'reference' };

/** The arms every study compares: the controls, the baselines and the SALN variants. */
export const STANDARD_ARMS: Arm[] = [
  { label: 'none (same steps)', selector: 'none', options: {}, control: 'steps' },
  { label: 'none (same images)', selector: 'none', options: {}, control: 'images' },
  { label: 'random', selector: 'random', options: {} },
  { label: 'loss', selector: 'loss', options: {} },
  { label: 'rho', selector: 'rho', options: {} },
  { label: 'saln (learner, proportional)', selector: 'saln', options: { featureSource: 'learner', rule: 'proportional' } },
  { label: 'saln (reference, stratified, learnability)', selector: 'saln', options: { ...REFERENCE_ARMS_OPTIONS, rule: 'stratified', within: 'learnability' } },
  { label: 'saln (reference, clusters, learnability)', selector: 'saln', options: { ...REFERENCE_ARMS_OPTIONS, rule: 'clusters', within: 'learnability' } },
  { label: 'saln (reference, clusters, random)', selector: 'saln', options: { ...REFERENCE_ARMS_OPTIONS, rule: 'clusters', within: 'random' } },
  { label: 'saln (reference, degree)', selector: 'saln', options: { ...REFERENCE_ARMS_OPTIONS, rule: 'degree' } },
];

// Sized to finish within 90 minutes on a 2-core machine with lavapipe (no GPU): a quarter-width ResNet-18 at
// 28x28, 3,000 training images for 2 epochs, super-batches of 128, three paired seeds.
const SCREENING: StudyPreset = {
  name: 'screening',
  description: 'Fashion-MNIST, 3,000 training images (2,000 more train the reference), ResNet-18 width 1/4, 2 epochs, super-batch 128, 3 seeds',
  dataset: 'fashion-mnist', limit: 3000, referenceLimit: 2000, testLimit: 2000, width: 0.25, stem: 'imagenet',
  epochs: 2, referenceEpochs: 2, batchSize: 128, lr: 0.004, evalEvery: 8, evalSubset: 1000, target: 0.75,
  conditions: ['clean', 'noise:0.3', 'duplicates:0.5', 'corrupt:0.2'],
  arms: STANDARD_ARMS.filter((a) => !['loss', 'saln (reference, degree)'].includes(a.label)),
  keeps: [0.5], seeds: [0, 1, 2],
};

export const PRESETS: Record<string, StudyPreset> = {
  screening: SCREENING,
  // What `npm start` runs: the screening study's setting where SALN's result was strongest (label noise), with
  // the controls; the same data, model and budget as the screening, so its runs are the screening's runs.
  demo: {
    ...SCREENING,
    name: 'demo',
    description: 'Fashion-MNIST with 30% of the labels wrong (3,000 training images, 2,000 more train the reference), ResNet-18 width 1/4, 2 epochs, super-batch 128, 3 seeds',
    conditions: ['noise:0.3'],
    arms: STANDARD_ARMS.filter((a) => ['none (same steps)', 'random', 'saln (reference, clusters, learnability)'].includes(a.label)),
  },
  // For a GPU machine: the full training split, full width, every condition and arm, two keep ratios, 5 seeds.
  full: {
    name: 'full',
    description: 'Fashion-MNIST, 50,000 training images (10,000 train the reference), ResNet-18 width 1, 5 epochs, super-batch 256, 5 seeds',
    dataset: 'fashion-mnist', limit: 50000, referenceLimit: 10000, testLimit: 10000, width: 1, stem: 'imagenet',
    epochs: 5, referenceEpochs: 3, batchSize: 256, lr: 0.002, evalEvery: 50, evalSubset: 2000, target: 0.88,
    conditions: ['clean', 'noise:0.2', 'noise:0.4', 'duplicates:0.5', 'imbalance:10', 'corrupt:0.2', 'transfer'],
    arms: STANDARD_ARMS, keeps: [0.25, 0.5], seeds: [0, 1, 2, 3, 4],
  },
  // A few seconds per run on synthetic data: what the tests run as separate processes.
  tiny: {
    name: 'tiny',
    description: 'synthetic data, 96 training images, ResNet-18 width 1/16, 1 epoch, super-batch 32, 2 seeds (tests)',
    dataset: 'synthetic', limit: 96, referenceLimit: 64, testLimit: 64, width: 1 / 16, stem: 'cifar',
    epochs: 1, referenceEpochs: 1, batchSize: 32, lr: 0.002, evalEvery: 1, evalSubset: 64, target: 0.3,
    conditions: ['clean', 'noise:0.25'],
    arms: STANDARD_ARMS.filter((a) => ['none (same steps)', 'random', 'rho', 'saln (reference, stratified, learnability)'].includes(a.label)),
    keeps: [0.5], seeds: [0, 1],
  },
};

/** What a run's result depends on besides its arm, keep and seed: the data, model and budget of the preset. */
export function commonSettings(preset: StudyPreset): Record<string, unknown> {
  const { dataset, limit, referenceLimit, testLimit, width, stem, epochs, referenceEpochs, batchSize, lr, evalEvery, evalSubset } = preset;
  return { dataset, limit, referenceLimit, testLimit, width, stem, epochs, referenceEpochs, batchSize, lr, evalEvery, evalSubset, version: 1 };
}

/** Every run of the preset, in a fixed order (the index a Slurm array task runs). */
export function expandRuns(preset: StudyPreset): StudyRun[] {
  const runs = new Map<string, StudyRun>();
  for (const condition of preset.conditions) {
    for (const keep of preset.keeps) {
      for (const seed of preset.seeds) {
        for (const arm of preset.arms) {
          const runKeep = arm.selector === 'none' && arm.control !== 'images' ? 1 : keep;
          const settings = { ...commonSettings(preset), condition, seed, keep: runKeep, selector: arm.selector, options: arm.options, control: arm.control, warmupSteps: arm.warmupSteps, rampSteps: arm.rampSteps };
          const id = settingsHash(settings);
          if (!runs.has(id)) runs.set(id, { id, condition, arm, keep: runKeep, seed, settings });
        }
      }
    }
  }
  return [...runs.values()];
}

/** The reference model's settings (shared by every run of a condition: a fixed resource like a pretrained model). */
export function referenceSettings(preset: StudyPreset, condition: string): Record<string, unknown> {
  const { dataset, limit, referenceLimit, width, stem, referenceEpochs, batchSize, lr } = preset;
  return { dataset, limit, referenceLimit, width, stem, referenceEpochs, batchSize, lr, condition, version: 1 };
}

export function presetByName(name: string): StudyPreset {
  const preset = PRESETS[name];
  if (!preset) throw new Error(`unknown study preset '${name}'; one of ${Object.keys(PRESETS).join(', ')}`);
  return preset;
}
