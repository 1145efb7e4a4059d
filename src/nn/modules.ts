// Modules: named layers that declare their tensors (torchvision names) and run on tape variables. Parameters
// live in a ParameterStore, so a module holds only names and hyper-parameters.
import type { Tape, Var } from '../autograd.ts';
import type { ParameterStore, TensorSpec } from './parameters.ts';
import * as F from './functional.ts';
import { BATCHNORM_EPS, BATCHNORM_MOMENTUM } from '../ops/batchnorm.ts';

export interface ForwardContext {
  tape: Tape;
  store: ParameterStore;
  training: boolean;
  /**
   * With `training`: normalise with the batch's own statistics but leave the running ones as they are (a
   * selector's scoring forward: early running statistics are poor, and scoring must not move them).
   */
  freezeRunningStats?: boolean;
  /** Sees the output of every named layer (non-finite checks, fault injection). */
  probe?: (name: string, output: Var) => void;
}

function observed(ctx: ForwardContext, name: string, output: Var): Var {
  ctx.probe?.(name, output);
  return output;
}

export interface Module {
  /** Tensors this module owns, with full names. */
  specs(): TensorSpec[];
  forward(ctx: ForwardContext, x: Var): Var;
}

const join = (prefix: string, name: string) => (prefix ? `${prefix}.${name}` : name);

export class Conv2d implements Module {
  constructor(readonly name: string, readonly inChannels: number, readonly outChannels: number, readonly kernel: number, readonly stride = 1, readonly padding = 0) {}

  get weightName(): string { return join(this.name, 'weight'); }

  specs(): TensorSpec[] {
    // OHWI, our layout (PyTorch's OIHW is converted at the checkpoint boundary).
    return [{ name: this.weightName, shape: [this.outChannels, this.kernel, this.kernel, this.inChannels], kind: 'parameter', decay: true, init: 'kaiming-fan-out' }];
  }

  forward(ctx: ForwardContext, x: Var): Var {
    return observed(ctx, this.name, F.conv2d(ctx.tape, x, ctx.store.param(this.weightName), { stride: this.stride, padding: this.padding }));
  }
}

export class BatchNorm2d implements Module {
  /** @param relu a ReLU fused on the output (torchvision's bn1 -> relu), which adds no tensors. */
  constructor(readonly name: string, readonly channels: number, readonly relu = false, readonly momentum = BATCHNORM_MOMENTUM, readonly eps = BATCHNORM_EPS) {}

  specs(): TensorSpec[] {
    const c = [this.channels];
    return [
      { name: join(this.name, 'weight'), shape: c, kind: 'parameter', decay: false, init: 'ones' },
      { name: join(this.name, 'bias'), shape: c, kind: 'parameter', decay: false, init: 'zeros' },
      { name: join(this.name, 'running_mean'), shape: c, kind: 'buffer', decay: false, init: 'zeros' },
      { name: join(this.name, 'running_var'), shape: c, kind: 'buffer', decay: false, init: 'ones' },
      // torchvision's state dict carries it; PyTorch only reads it when momentum is None.
      { name: join(this.name, 'num_batches_tracked'), shape: [], kind: 'buffer', decay: false, init: 'zeros' },
    ];
  }

  forward(ctx: ForwardContext, x: Var): Var {
    const { store } = ctx;
    return observed(ctx, this.name, F.batchNorm(ctx.tape, x, store.param(join(this.name, 'weight')), store.param(join(this.name, 'bias')), {
      runningMean: store.buffer(join(this.name, 'running_mean')),
      runningVar: store.buffer(join(this.name, 'running_var')),
      momentum: ctx.freezeRunningStats ? 0 : this.momentum, eps: this.eps,
    }, ctx.training, this.relu));
  }
}

export class Linear implements Module {
  constructor(readonly name: string, readonly inFeatures: number, readonly outFeatures: number, readonly bias = true) {}

  specs(): TensorSpec[] {
    const init = { uniformFanIn: this.inFeatures };
    const specs: TensorSpec[] = [{ name: join(this.name, 'weight'), shape: [this.outFeatures, this.inFeatures], kind: 'parameter', decay: true, init }];
    if (this.bias) specs.push({ name: join(this.name, 'bias'), shape: [this.outFeatures], kind: 'parameter', decay: false, init });
    return specs;
  }

  forward(ctx: ForwardContext, x: Var): Var {
    return observed(ctx, this.name, F.linear(ctx.tape, x, ctx.store.param(join(this.name, 'weight')), this.bias ? ctx.store.param(join(this.name, 'bias')) : null));
  }
}

export class ReLU implements Module {
  specs(): TensorSpec[] { return []; }
  forward(ctx: ForwardContext, x: Var): Var { return F.relu(ctx.tape, x); }
}

export class MaxPool implements Module {
  constructor(readonly kernel = 3, readonly stride = 2, readonly padding = 1) {}
  specs(): TensorSpec[] { return []; }
  forward(ctx: ForwardContext, x: Var): Var {
    return F.maxPool(ctx.tape, x, { kernel: this.kernel, stride: this.stride, padding: this.padding });
  }
}

/** Global average pool NHWC [N, H, W, C] -> [N, C] (torchvision's AdaptiveAvgPool2d(1) + flatten). */
export class AvgPool implements Module {
  specs(): TensorSpec[] { return []; }
  forward(ctx: ForwardContext, x: Var): Var { return F.globalAvgPool(ctx.tape, x); }
}

export class Sequential implements Module {
  constructor(readonly layers: Module[]) {}
  specs(): TensorSpec[] { return this.layers.flatMap((l) => l.specs()); }
  forward(ctx: ForwardContext, x: Var): Var {
    return this.layers.reduce((h, layer) => layer.forward(ctx, h), x);
  }
}
