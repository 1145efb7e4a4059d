// The optimizers the trainer steps with, behind one interface: each owns its state tensors (under the names a
// checkpoint stores them by) and applies one update to the flat parameter buffer.
import type { Runtime } from '../gpu/runtime.ts';
import { Tensor } from '../tensor.ts';
import { fill } from '../ops/fill.ts';
import { adamwStep, sgdStep, type StepOptions } from '../ops/optimizer.ts';

export const OPTIMIZER_NAMES = ['sgd', 'adamw'] as const;
export type OptimizerName = typeof OPTIMIZER_NAMES[number];

export interface OptimizerConfig {
  optimizer: OptimizerName;
  momentum: number;
  nesterov: boolean;
  weightDecay: number;
}

export interface Optimizer {
  readonly name: OptimizerName;
  /** State tensors by their checkpoint names ('momentum'; 'exp_avg', 'exp_avg_sq'), zero at the start. */
  readonly state: Map<string, Tensor>;
  /** One update of `weights` from `grads` at optimizer step `step` (1-based) with learning rate `lr`. */
  step(weights: Tensor, grads: Tensor, step: number, lr: number, options?: StepOptions): void;
}

/** The optimizer `config` names, with zeroed state for `parameters` weights. */
export function createOptimizer(rt: Runtime, config: OptimizerConfig, parameters: number): Optimizer {
  const zeros = () => fill(Tensor.empty(rt, [parameters]), 0);
  if (config.optimizer === 'sgd') {
    // L2 weight decay (added to the gradient), as torch.optim.SGD.
    const sgd = { momentum: config.momentum, nesterov: config.nesterov, weightDecay: config.weightDecay, decoupledWeightDecay: false };
    const state = new Map(config.momentum > 0 ? [['momentum', zeros()]] : []);
    return {
      name: 'sgd', state,
      step: (weights, grads, _step, lr, options) => sgdStep(weights, grads, state.get('momentum') ?? null, { ...sgd, lr }, options),
    };
  }
  const state = new Map([['exp_avg', zeros()], ['exp_avg_sq', zeros()]]);
  return {
    name: 'adamw', state,
    step: (weights, grads, step, lr, options) =>
      adamwStep(weights, grads, { expAvg: state.get('exp_avg')!, expAvgSq: state.get('exp_avg_sq')! }, step, { lr, weightDecay: config.weightDecay }, options),
  };
}
