// A full ResNet-18 training step (forward, backward, SGD) in images/s, for each stem.
import { parse, UsageError } from '../src/cli/args.ts';
import { getRuntime } from '../src/gpu/runtime.ts';
import { Tensor } from '../src/tensor.ts';
import { Tape, Var } from '../src/autograd.ts';
import { uniformArray } from '../src/rng.ts';
import { createResNet18, type Stem } from '../src/nn/resnet.ts';
import { crossEntropy } from '../src/nn/functional.ts';
import { sgdStep } from '../src/ops/optimizer.ts';
import { fill } from '../src/ops/fill.ts';
import { timeIt, tuneMatmul } from '../src/ops/tuning.ts';

export async function run(argv: string[]): Promise<number> {
  const { values } = parse('bench step', argv, {
    json: { type: 'boolean' }, runs: { type: 'string', default: '5' }, batch: { type: 'string', default: '32' },
    size: { type: 'string', default: '32' }, stem: { type: 'string', default: 'cifar,imagenet' }, width: { type: 'string', default: '1' },
    profile: { type: 'boolean' },
  });
  if (values.help) {
    process.stdout.write('usage: saln bench step [--json] [--runs N] [--batch 32] [--size 32] [--stem cifar,imagenet] [--width 1] [--profile]\n');
    return 0;
  }
  const runs = Number(values.runs), batch = Number(values.batch), size = Number(values.size), width = Number(values.width);
  for (const [flag, v] of [['runs', runs], ['batch', batch], ['size', size]] as const) {
    if (!(Number.isInteger(v) && v > 0)) throw new UsageError(`bench step: --${flag} must be a positive integer`);
  }
  const rt = await getRuntime({ adapter: values.adapter });
  const adapter = rt.ctx.info.description || rt.ctx.info.device;
  const tuning = await tuneMatmul(rt, { log: values.json ? undefined : (line) => process.stdout.write(`${line}\n`) });
  if (!values.json) process.stdout.write(`adapter: ${adapter}; GEMM design ${tuning.variant}; ResNet-18 width ${width}, batch ${batch}, ${size}x${size}x3, SGD; median of ${runs} steps after a warm-up\n`);
  for (const stem of values.stem!.split(',') as Stem[]) {
    if (stem !== 'cifar' && stem !== 'imagenet') throw new UsageError(`bench step: --stem takes cifar and/or imagenet, got '${stem}'`);
    const { model, store } = createResNet18(rt, { stem, width, inChannels: 3, classes: 10 }, 1);
    const momentum = fill(Tensor.empty(rt, [store.values.size]), 0);
    const x = Tensor.upload(rt, uniformArray(batch * size * size * 3, 2, 1, -1, 1), [batch, size, size, 3]);
    const labels = Tensor.upload(rt, Uint32Array.from({ length: batch }, (_, i) => i % 10), [batch], 'u32');
    const step = () => {
      store.zeroGrads();
      const tape = new Tape();
      const logits = model.forward({ tape, store, training: true }, new Var(x, false));
      const ce = crossEntropy(tape, logits, labels);
      tape.backward(ce.loss, Tensor.upload(rt, [1], [1]));
      ce.perSample.dispose(); ce.predicted.dispose(); ce.correct.dispose();
      sgdStep(store.values, store.grads, momentum, { lr: 0.01, momentum: 0.9, nesterov: true, weightDecay: 5e-4 }, { decayRange: [0, store.decayEnd] });
    };
    const seconds = await timeIt(rt, runs, step);
    const imagesPerSecond = batch / seconds;
    if (values.json) process.stdout.write(`${JSON.stringify({ bench: 'step', adapter, design: tuning.variant, stem, width, batch, size, seconds, imagesPerSecond })}\n`);
    else process.stdout.write(`${`${stem} stem`.padEnd(16)} ${(seconds * 1000).toFixed(0).padStart(7)} ms/step ${imagesPerSecond.toFixed(1).padStart(8)} images/s\n`);
    if (values.profile) {
      rt.pool.resetPeak();
      rt.startProfile();
      step();
      const kernels = await rt.stopProfile();
      const total = kernels.reduce((t, k) => t + k.seconds, 0);
      const dispatches = kernels.reduce((t, k) => t + k.dispatches, 0);
      const peak = rt.pool.report().peakBytes;
      if (values.json) process.stdout.write(`${JSON.stringify({ bench: 'step-profile', stem, dispatches, gpuSeconds: total, peakPoolBytes: peak, kernels })}\n`);
      else {
        process.stdout.write(`  profile (timestamp queries, one step): ${dispatches} dispatches, ${(total * 1000).toFixed(0)} ms of kernel time, peak pool ${(peak / 2 ** 20).toFixed(1)} MiB\n`);
        for (const k of kernels.slice(0, 12)) process.stdout.write(`    ${k.kernel.padEnd(46)} ${String(k.dispatches).padStart(5)} x ${(k.seconds * 1000).toFixed(1).padStart(8)} ms ${(100 * k.seconds / total).toFixed(1).padStart(6)}%\n`);
      }
    }
    x.dispose(); labels.dispose(); momentum.dispose(); store.dispose();
  }
  return 0;
}
