// ResNet-18 in TensorFlow.js ops for the peers' training step, laid out as torchvision builds it (and as
// src/nn/resnet.ts does): conv-BN-ReLU stem, BasicBlock x [2, 2, 2, 2] at widths 64-128-256-512 with a 1x1 conv +
// BN downsample, global average pool, linear; BN in training mode (batch statistics, differentiated through);
// softmax cross-entropy; SGD with Nesterov momentum and L2 weight decay on conv and linear weights.
import type * as TF from '@tensorflow/tfjs-core';

export interface PeerResNetConfig {
  stem: 'cifar' | 'imagenet';
  width: number;
  classes: number;
}

interface Conv { w: TF.Variable; stride: number; pad: number }
interface Bn { gamma: TF.Variable; beta: TF.Variable }
interface Block { conv1: Conv; bn1: Bn; conv2: Conv; bn2: Bn; down: { conv: Conv; bn: Bn } | null }

export class PeerResNet18 {
  private readonly variables: TF.Variable[] = [];
  /** The variables that get L2 weight decay, by name (conv and linear weights, as ours). */
  private readonly decayed = new Map<string, TF.Variable>();
  private readonly stemConv: Conv;
  private readonly stemBn: Bn;
  private readonly blocks: Block[] = [];
  private readonly fcW: TF.Variable;
  private readonly fcB: TF.Variable;
  private readonly optimizer: TF.MomentumOptimizer;

  constructor(private readonly tf: typeof TF, readonly config: PeerResNetConfig, readonly lr = 0.01, readonly weightDecay = 5e-4) {
    const base = Math.max(1, Math.round(64 * config.width));
    const widths = [base, 2 * base, 4 * base, 8 * base];
    this.stemConv = config.stem === 'imagenet' ? this.conv('conv1', 3, widths[0], 7, 2, 3) : this.conv('conv1', 3, widths[0], 3, 1, 1);
    this.stemBn = this.bn('bn1', widths[0]);
    let channels = widths[0];
    widths.forEach((w, stage) => {
      for (let b = 0; b < 2; b++) {
        const stride = stage > 0 && b === 0 ? 2 : 1;
        const name = `layer${stage + 1}.${b}`;
        this.blocks.push({
          conv1: this.conv(`${name}.conv1`, channels, w, 3, stride, 1), bn1: this.bn(`${name}.bn1`, w),
          conv2: this.conv(`${name}.conv2`, w, w, 3, 1, 1), bn2: this.bn(`${name}.bn2`, w),
          down: stride !== 1 || channels !== w ? { conv: this.conv(`${name}.downsample.0`, channels, w, 1, stride, 0), bn: this.bn(`${name}.downsample.1`, w) } : null,
        });
        channels = w;
      }
    });
    const bound = 1 / Math.sqrt(channels);
    this.fcW = this.variable('fc.weight', tf.randomUniform([channels, config.classes], -bound, bound, 'float32', 2), true);
    this.fcB = this.variable('fc.bias', tf.randomUniform([config.classes], -bound, bound, 'float32', 3), false);
    this.optimizer = tf.train.momentum(lr, 0.9, true);
  }

  private variable(name: string, init: TF.Tensor, decay: boolean): TF.Variable {
    const v = this.tf.variable(init, true, `${name}#${this.variables.length}`);
    init.dispose();
    this.variables.push(v);
    if (decay) this.decayed.set(v.name, v);
    return v;
  }

  // Kaiming-normal, fan-out, ReLU gain (torchvision); TF.js filters are [KH, KW, Cin, Cout].
  private conv(name: string, cin: number, cout: number, k: number, stride: number, pad: number): Conv {
    const std = Math.sqrt(2 / (cout * k * k));
    return { w: this.variable(`${name}.weight`, this.tf.randomNormal([k, k, cin, cout], 0, std, 'float32', this.variables.length + 7), true), stride, pad };
  }

  private bn(name: string, channels: number): Bn {
    return { gamma: this.variable(`${name}.weight`, this.tf.ones([channels]), false), beta: this.variable(`${name}.bias`, this.tf.zeros([channels]), false) };
  }

  private convBn(x: TF.Tensor4D, c: Conv, bn: Bn, relu: boolean): TF.Tensor4D {
    const tf = this.tf;
    const h = tf.conv2d(x, c.w as TF.Tensor4D, c.stride, c.pad);
    const { mean, variance } = tf.moments(h, [0, 1, 2]);
    const y = tf.batchNorm(h, mean, variance, bn.beta as TF.Tensor1D, bn.gamma as TF.Tensor1D, 1e-5);
    return (relu ? tf.relu(y) : y) as TF.Tensor4D;
  }

  logits(x: TF.Tensor4D): TF.Tensor2D {
    const tf = this.tf;
    let h = this.convBn(x, this.stemConv, this.stemBn, true);
    if (this.config.stem === 'imagenet') h = tf.maxPool(h, 3, 2, 1);
    for (const b of this.blocks) {
      const out = this.convBn(this.convBn(h, b.conv1, b.bn1, true), b.conv2, b.bn2, false);
      const identity = b.down ? this.convBn(h, b.down.conv, b.down.bn, false) : h;
      h = tf.relu(tf.add(out, identity)) as TF.Tensor4D;
    }
    const pooled = tf.mean(h, [1, 2]) as TF.Tensor2D;
    return tf.add(tf.matMul(pooled, this.fcW as TF.Tensor2D), this.fcB);
  }

  /** One training step; returns the loss (the caller syncs on it, then disposes it). */
  step(x: TF.Tensor4D, oneHot: TF.Tensor2D): TF.Scalar {
    const tf = this.tf;
    return tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(oneHot, this.logits(x)) as TF.Scalar, this.variables);
      const decayed = Object.entries(grads).map(([name, g]) => {
        const v = this.decayed.get(name);
        return { name, tensor: v ? tf.add(g, tf.mul(v, this.weightDecay)) : g };
      });
      this.optimizer.applyGradients(decayed);
      return value;
    });
  }

  dispose(): void {
    for (const v of this.variables) v.dispose();
    this.optimizer.dispose();
  }
}
