// A full ResNet-18 training step (forward, backward, SGD with Nesterov momentum and weight decay) in images/s and
// seconds per step: CIFAR stem at 32x32 batch 32, ImageNet stem at 224x224 batch 16; the peers the same.
import { Tensor } from '../src/tensor.ts';
import { Tape, Var } from '../src/autograd.ts';
import { uniformArray } from '../src/rng.ts';
import { createResNet18, type ResNetInstance, type Stem } from '../src/nn/resnet.ts';
import { crossEntropy } from '../src/nn/functional.ts';
import { sgdStep } from '../src/ops/optimizer.ts';
import { fill } from '../src/ops/fill.ts';
import { UsageError } from '../src/util/errors.ts';
import type { SuiteContext } from './context.ts';
import { measure } from './measure.ts';
import { listOf, positiveInt } from './options.ts';

export const STEP_CONFIGS: Record<Stem, { size: number; batch: number }> = {
  cifar: { size: 32, batch: 32 },
  imagenet: { size: 224, batch: 16 },
};

const CLASSES = 10;

/** Forward, backward and SGD (Nesterov momentum 0.9, weight decay 5e-4) on one batch: what every step figure times. */
export function trainingStep({ model, store }: Pick<ResNetInstance, 'model' | 'store'>, momentum: Tensor, x: Tensor, labels: Tensor): void {
  store.zeroGrads();
  const tape = new Tape();
  const logits = model.forward({ tape, store, training: true }, new Var(x, false));
  const ce = crossEntropy(tape, logits, labels);
  tape.backward(ce.loss, Tensor.upload(x.rt, [1], [1])); // the tape owns (and frees) the seed
  ce.perSample.dispose(); ce.predicted.dispose(); ce.correct.dispose();
  sgdStep(store.values, store.grads, momentum, { lr: 0.01, momentum: 0.9, nesterov: true, weightDecay: 5e-4 }, { decayRange: [0, store.decayEnd] });
}

export async function run(ctx: SuiteContext): Promise<void> {
  const { rt, report, values, runs } = ctx;
  const stems = listOf('stem', values.stem ?? 'cifar,imagenet', ['cifar', 'imagenet'] as const);
  const width = Number(values.width ?? '1');
  if (!(width > 0)) throw new UsageError(`bench: --width must be positive, got '${values.width}'`);
  report.line(`ResNet-18 (width ${width}, ${CLASSES} classes), SGD momentum 0.9 Nesterov, weight decay 5e-4, BN in training mode; ratio = ours/peer speed`);
  for (const stem of stems) {
    const batch = positiveInt('batch', values.batch, STEP_CONFIGS[stem].batch);
    const size = positiveInt('size', values.size, STEP_CONFIGS[stem].size);
    const name = `${stem} stem ${size}x${size} b${batch}`;
    const images = uniformArray(batch * size * size * 3, 2, 1, -1, 1);
    const extra = { stem, batch, size, width };

    const { model, store } = createResNet18(rt, { stem, width, inChannels: 3, classes: CLASSES }, 1);
    const momentum = fill(Tensor.empty(rt, [store.values.size]), 0);
    const x = Tensor.upload(rt, images, [batch, size, size, 3]);
    const labels = Tensor.upload(rt, Uint32Array.from({ length: batch }, (_, i) => i % CLASSES), [batch], 'u32');
    const step = () => trainingStep({ model, store }, momentum, x, labels);
    try {
      const seconds = await measure(runs, step, () => rt.sync('bench step'));
      report.figure({ suite: 'step', case: name, engine: 'saln', seconds, work: batch, unit: 'images/s', extra });
      if (values.profile) await profile(ctx, name, step);
    } finally {
      x.dispose(); labels.dispose(); momentum.dispose(); store.dispose();
    }

    const peers = await ctx.peers();
    if (!peers) continue;
    const skipped = stem === 'imagenet' && !values['peers-imagenet'] ? peers.available.filter((p) => p.slowImagenetStep) : [];
    if (skipped.length > 0) report.line(`  (${skipped.map((p) => p.engine).join(' and ')} take minutes per ImageNet-stem step: add --peers-imagenet to run them)`);
    for (const peer of peers.available) {
      if (skipped.includes(peer)) continue;
      const result = await peer.step(runs, { stem, width, classes: CLASSES, batch, size }, images);
      if (!Number.isFinite(result.loss)) throw new Error(`${peer.engine}'s training step gave a non-finite loss (${result.loss})`);
      // The TF.js peers do not update BN running statistics (a few small ops: it flatters them, if anything).
      report.figure({ suite: 'step', case: name, engine: peer.engine, seconds: result.seconds, work: batch, unit: 'images/s', extra: { ...extra, lastLoss: result.loss, runningStatsUpdated: peer.updatesRunningStats } });
    }
  }
}

/** Share of one step's time per kernel (timestamp queries where the adapter has them, else fenced wall time), dispatches, peak pool. */
async function profile(ctx: SuiteContext, name: string, step: () => void): Promise<void> {
  const { rt, report } = ctx;
  rt.pool.resetPeak();
  rt.startProfile();
  step();
  const kernels = await rt.stopProfile();
  const total = kernels.reduce((t, k) => t + k.seconds, 0);
  const dispatches = kernels.reduce((t, k) => t + k.dispatches, 0);
  const peak = rt.pool.report().peakBytes;
  report.extra({ type: 'profile', suite: 'step', case: name, engine: 'saln', method: rt.profileMethod, dispatches, gpuSeconds: total, peakPoolBytes: peak, kernels });
  report.line(`  profile of one step (${rt.profileMethod}): ${dispatches} dispatches, ${(total * 1000).toFixed(0)} ms of kernel time, peak pool ${(peak / 2 ** 20).toFixed(1)} MiB`);
  for (const k of kernels.slice(0, 12)) report.line(`    ${k.kernel.padEnd(46)} ${String(k.dispatches).padStart(5)} x ${(k.seconds * 1000).toFixed(1).padStart(8)} ms ${(100 * k.seconds / total).toFixed(1).padStart(6)}%`);
}
