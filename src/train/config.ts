// A training run's configuration and its defaults, apart from the trainer so that checkpoints can check a saved
// one without importing the training loop.
import type { ResNetConfig } from '../nn/resnet.ts';
import type { AugmentOptions } from '../ops/augment.ts';
import type { OptimizerName } from '../nn/optimizers.ts';

export interface TrainConfig {
  model: ResNetConfig;
  epochs: number;
  batchSize: number;
  evalBatchSize: number;
  optimizer: OptimizerName;
  lr: number;
  momentum: number;
  nesterov: boolean;
  weightDecay: number;
  labelSmoothing: number;
  /** Clip the gradient's global norm to this (0: no clipping). */
  clipNorm: number;
  seed: number;
  /** Augmentation for training batches (evaluation only normalizes); mean/std are per channel on 0..1. */
  augment: Omit<AugmentOptions, 'mean' | 'std'>;
  mean: number[];
  std: number[];
  /** Batch selection: every step scores the batch (the super-batch) and back-propagates only the kept part. */
  selection?: SelectionConfig;
}

export interface SelectionConfig {
  selector: string;
  options: Record<string, unknown>;
  /** Fraction of each super-batch trained on (k = round(keep * batch), at least 2 for batch-norm). */
  keep: number;
  /** When set, the fraction moves linearly from `keep` at the first step to `keepEnd` at the last (GSTDS-style). */
  keepEnd?: number;
  /** A checkpoint directory (or model.safetensors) of the reference model, for jest, rho and reference features. */
  reference?: string;
  /** Steps trained on the whole super-batch before selection starts (default 0). */
  warmupSteps?: number;
  /** After the warm-up, the kept fraction falls linearly from 1 to `keep` over this many steps (default 0). */
  rampSteps?: number;
  /**
   * Batch-norm in the learner's scoring forward: 'batch' (the super-batch's own statistics, running ones left
   * untouched; the default: early running statistics are poor) or 'running' (evaluation mode).
   */
  scoringStats?: 'batch' | 'running';
  /**
   * Where reference features and losses come from: 'cached' (default: computed once over the un-augmented
   * training split, gathered per step, no forward) or 'forward' (the reference runs on each augmented super-batch).
   */
  referenceScores?: 'cached' | 'forward';
  /** The reference-feature cache file (default: beside the reference checkpoint, named by the data's digest). */
  featureCache?: string;
}

/** A complete configuration from a few choices: AdamW (the CLI's default), no augmentation, seed 0. */
export function trainConfig(overrides: Partial<TrainConfig> & Pick<TrainConfig, 'model' | 'mean' | 'std'>): TrainConfig {
  const optimizer = overrides.optimizer ?? 'adamw';
  return {
    epochs: 1, batchSize: 64, evalBatchSize: 256, optimizer, lr: optimizer === 'sgd' ? 0.05 : 0.002, momentum: 0.9, nesterov: true,
    weightDecay: optimizer === 'sgd' ? 5e-4 : 0.01, labelSmoothing: 0, clipNorm: 0, seed: 0, augment: {},
    ...overrides,
  };
}
