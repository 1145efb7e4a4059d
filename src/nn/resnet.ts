// ResNet-18 exactly as torchvision builds it (BasicBlock x [2, 2, 2, 2], widths 64-128-256-512, 1x1 conv + BN
// downsample), with torchvision's tensor names, plus the options a small machine needs: a CIFAR stem for
// 32-pixel input, 1 or 3 input channels, any class count, and a width multiplier.
import type { Runtime } from '../gpu/runtime.ts';
import type { Var } from '../autograd.ts';
import { normalArray, uniformArray } from '../rng.ts';
import { ParameterStore, type TensorSpec } from './parameters.ts';
import * as F from './functional.ts';
import { AvgPool, BatchNorm2d, Conv2d, Linear, MaxPool, Sequential, type ForwardContext, type Module } from './modules.ts';

export type Stem = 'imagenet' | 'cifar';

export interface ResNetConfig {
  /** 'imagenet': 7x7 stride-2 conv + max-pool (224-pixel input, pretrained weights); 'cifar': 3x3 stride-1, no pool. */
  stem: Stem;
  /** Channel multiplier on 64-128-256-512 (1 = ResNet-18 proper); smaller runs faster on slow adapters. */
  width: number;
  inChannels: number;
  classes: number;
}

export const RESNET_DEFAULTS: ResNetConfig = { stem: 'imagenet', width: 1, inChannels: 3, classes: 1000 };

/** Channels of stage i (0..3) for a width multiplier. */
export function stageWidths(width: number): number[] {
  const base = Math.max(1, Math.round(64 * width));
  return [base, 2 * base, 4 * base, 8 * base];
}

class BasicBlock implements Module {
  readonly conv1: Conv2d; readonly bn1: BatchNorm2d; readonly conv2: Conv2d; readonly bn2: BatchNorm2d;
  readonly downsample: Sequential | null;

  constructor(name: string, inChannels: number, outChannels: number, stride: number) {
    this.conv1 = new Conv2d(`${name}.conv1`, inChannels, outChannels, 3, stride, 1);
    this.bn1 = new BatchNorm2d(`${name}.bn1`, outChannels, true);
    this.conv2 = new Conv2d(`${name}.conv2`, outChannels, outChannels, 3, 1, 1);
    this.bn2 = new BatchNorm2d(`${name}.bn2`, outChannels);
    this.downsample = stride !== 1 || inChannels !== outChannels
      ? new Sequential([new Conv2d(`${name}.downsample.0`, inChannels, outChannels, 1, stride, 0), new BatchNorm2d(`${name}.downsample.1`, outChannels)])
      : null;
  }

  specs(): TensorSpec[] {
    return [this.conv1, this.bn1, this.conv2, this.bn2, ...(this.downsample ? [this.downsample] : [])].flatMap((m) => m.specs());
  }

  forward(ctx: ForwardContext, x: Var): Var {
    let h = this.conv1.forward(ctx, x);
    h = this.bn1.forward(ctx, h); // with its ReLU
    h = this.conv2.forward(ctx, h);
    h = this.bn2.forward(ctx, h);
    const identity = this.downsample ? this.downsample.forward(ctx, x) : x;
    return F.addRelu(ctx.tape, h, identity);
  }
}

export class ResNet18 implements Module {
  readonly config: ResNetConfig;
  private readonly stem: Module[];
  private readonly blocks: BasicBlock[] = [];
  private readonly pool = new AvgPool();
  readonly fc: Linear;
  readonly featureCount: number;

  constructor(config: Partial<ResNetConfig> = {}) {
    this.config = { ...RESNET_DEFAULTS, ...config };
    const { stem, width, inChannels, classes } = this.config;
    if (!(width > 0)) throw new Error(`resnet18: width must be positive, got ${width}`);
    if (!Number.isInteger(classes) || classes < 1) throw new Error(`resnet18: classes must be a positive integer, got ${classes}`);
    if (!Number.isInteger(inChannels) || inChannels < 1) throw new Error(`resnet18: input channels must be a positive integer, got ${inChannels}`);
    const widths = stageWidths(width);
    this.stem = stem === 'imagenet'
      ? [new Conv2d('conv1', inChannels, widths[0], 7, 2, 3), new BatchNorm2d('bn1', widths[0], true)]
      : [new Conv2d('conv1', inChannels, widths[0], 3, 1, 1), new BatchNorm2d('bn1', widths[0], true)];
    let channels = widths[0];
    widths.forEach((w, stage) => {
      for (let b = 0; b < 2; b++) {
        const stride = stage > 0 && b === 0 ? 2 : 1;
        this.blocks.push(new BasicBlock(`layer${stage + 1}.${b}`, channels, w, stride));
        channels = w;
      }
    });
    this.featureCount = channels;
    this.fc = new Linear('fc', channels, classes);
  }

  specs(): TensorSpec[] {
    return [...this.stem, ...this.blocks, this.fc].flatMap((m) => m.specs());
  }

  /** The penultimate features [N, F] (after global average pooling): what SALN embeds samples with. */
  features(ctx: ForwardContext, x: Var): Var {
    let h = this.stem[0].forward(ctx, x);
    h = this.stem[1].forward(ctx, h); // with its ReLU
    if (this.config.stem === 'imagenet') h = new MaxPool(3, 2, 1).forward(ctx, h);
    for (const block of this.blocks) h = block.forward(ctx, h);
    return this.pool.forward(ctx, h);
  }

  /** Logits [N, classes] from an NHWC batch. */
  forward(ctx: ForwardContext, x: Var): Var {
    return this.fc.forward(ctx, this.features(ctx, x));
  }
}

/**
 * torchvision's initialisation, as each module declares it (TensorSpec.init), drawn from the seeded generator:
 * Kaiming-normal convolutions (fan-out, ReLU gain), batch-norm weight 1 and bias 0, running variance 1, and
 * PyTorch's default Linear init (uniform +-1/sqrt(in)). Tensor i draws from stream 1000 + i.
 */
export function initialValues(specs: readonly TensorSpec[], seed: number): Map<string, Float32Array> {
  const values = new Map<string, Float32Array>();
  specs.forEach((spec, index) => {
    const size = spec.shape.reduce((p, d) => p * d, 1);
    const stream = 1000 + index;
    let data: Float32Array;
    if (spec.init === 'ones') {
      data = new Float32Array(size).fill(1);
    } else if (spec.init === 'zeros') {
      data = new Float32Array(size);
    } else if (spec.init === 'kaiming-fan-out') {
      const [cout, kh, kw] = spec.shape;
      data = Float32Array.from(normalArray(size, seed, stream, 0, Math.sqrt(2 / (cout * kh * kw))));
    } else {
      const bound = 1 / Math.sqrt(spec.init.uniformFanIn);
      data = uniformArray(size, seed, stream, -bound, bound);
    }
    values.set(spec.name, data);
  });
  return values;
}

export interface ResNetInstance {
  model: ResNet18;
  store: ParameterStore;
}

/** A model and its parameter store on the GPU, initialised from `seed`. */
export function createResNet18(rt: Runtime, config: Partial<ResNetConfig> = {}, seed = 0): ResNetInstance {
  const model = new ResNet18(config);
  const store = new ParameterStore(rt, model.specs());
  for (const [name, data] of initialValues(model.specs(), seed)) store.upload(name, data);
  return { model, store };
}
