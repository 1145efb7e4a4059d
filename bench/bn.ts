// Batch-norm (training mode) forward and backward and ReLU forward and backward on ResNet-18's activation
// shapes, in GB/s of compulsory traffic: each tensor the op must read or write counted once (BN forward: x in,
// y out; BN backward: dy and x in, dx out; ReLU: x in, y out; its backward: dy and y in, dx out). Per-channel
// vectors are left out (they are C floats). Memory-bound ops, so GB/s against the copy rate is the measure.
import { Tensor } from '../src/tensor.ts';
import { uniformArray } from '../src/rng.ts';
import { batchNormBackward, batchNormTrain } from '../src/ops/batchnorm.ts';
import { reluBackward } from '../src/ops/relu.ts';
import { unary } from '../src/ops/elementwise.ts';
import { fill } from '../src/ops/fill.ts';
import type { SuiteContext } from './context.ts';
import { measure } from './measure.ts';
import { listOf, positiveInt } from './options.ts';
import { resnet18Convs } from './resnet-convs.ts';
import { STEP_CONFIGS } from './step.ts';

/** The distinct conv output shapes [N, H, W, C] of ResNet-18 for a stem: what every BN and ReLU runs on. */
export function activationShapes(stem: 'cifar' | 'imagenet', batch: number, size: number): number[][] {
  const seen = new Set<string>();
  const shapes: number[][] = [];
  for (const l of resnet18Convs(stem, size)) {
    const out = Math.floor((l.H + 2 * l.pad - l.k) / l.stride) + 1;
    const shape = [batch, out, out, l.Cout];
    if (!seen.has(shape.join())) { seen.add(shape.join()); shapes.push(shape); }
  }
  return shapes;
}

export async function run(ctx: SuiteContext): Promise<void> {
  const { rt, report, values, runs } = ctx;
  const stems = listOf('stem', values.stem ?? 'cifar,imagenet', ['cifar', 'imagenet'] as const);
  report.line('GB/s of compulsory traffic (each tensor read or written once); shapes and batches as in the step suite');
  const sync = () => rt.sync('bench bn');
  for (const stem of stems) {
    const batch = positiveInt('batch', values.batch, STEP_CONFIGS[stem].batch);
    for (const shape of activationShapes(stem, batch, STEP_CONFIGS[stem].size)) {
      const [N, H, W, C] = shape;
      const n = N * H * W * C;
      const x = Tensor.upload(rt, uniformArray(n, 7, 1, -1, 1), shape);
      const dy = Tensor.upload(rt, uniformArray(n, 7, 2, -1, 1), shape);
      const gamma = fill(Tensor.empty(rt, [C]), 1), beta = fill(Tensor.empty(rt, [C]), 0);
      const runningMean = fill(Tensor.empty(rt, [C]), 0), runningVar = fill(Tensor.empty(rt, [C]), 1);
      const saved = batchNormTrain(x, gamma, beta, runningMean, runningVar);
      const cases: [string, number, () => void][] = [
        ['bn train forward', 2, () => { const r = batchNormTrain(x, gamma, beta, runningMean, runningVar); r.y.dispose(); r.mean.dispose(); r.invStd.dispose(); }],
        ['bn backward', 3, () => { const r = batchNormBackward(dy, x, gamma, saved.mean, saved.invStd); r.dx.dispose(); r.dgamma.dispose(); r.dbeta.dispose(); }],
        ['relu forward', 2, () => unary('relu', x).dispose()],
        ['relu backward', 3, () => reluBackward(dy, saved.y).dispose()],
      ];
      try {
        for (const [op, tensors, body] of cases) {
          const seconds = await measure(runs, body, sync);
          const bytes = tensors * 4 * n;
          report.figure({ suite: 'bn', case: `${stem} ${shape.join('x')} ${op}`, engine: 'saln', seconds, work: bytes, scale: 1e9, unit: 'GB/s', extra: { stem, op, shape, bytes } });
        }
      } finally {
        for (const t of [x, dy, gamma, beta, runningMean, runningVar, saved.y, saved.mean, saved.invStd]) t.dispose();
      }
    }
  }
}
