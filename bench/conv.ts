// conv2d forward, input-gradient and weight-gradient time and GFLOP/s for each distinct conv of ResNet-18.
import { parse, UsageError } from '../src/cli/args.ts';
import { getRuntime } from '../src/gpu/runtime.ts';
import { Tensor } from '../src/tensor.ts';
import { uniformArray } from '../src/rng.ts';
import { conv2d, conv2dBackwardInput, conv2dBackwardWeight, convGeometry } from '../src/ops/conv.ts';
import { timeIt, tuneMatmul } from '../src/ops/tuning.ts';
import { resnet18Convs } from './resnet-convs.ts';

export async function run(argv: string[]): Promise<number> {
  const { values } = parse('bench conv', argv, {
    json: { type: 'boolean' }, runs: { type: 'string', default: '5' }, batch: { type: 'string', default: '32' },
    stem: { type: 'string', default: 'cifar,imagenet' }, layers: { type: 'string' },
  });
  if (values.help) {
    process.stdout.write('usage: saln bench conv [--json] [--runs N] [--batch N] [--stem cifar,imagenet] [--layers SUBSTRING]\n');
    return 0;
  }
  const runs = Number(values.runs), batch = Number(values.batch);
  if (!(Number.isInteger(runs) && runs > 0)) throw new UsageError(`bench conv: --runs must be a positive integer, got '${values.runs}'`);
  if (!(Number.isInteger(batch) && batch > 0)) throw new UsageError(`bench conv: --batch must be a positive integer, got '${values.batch}'`);
  const stems = values.stem!.split(',');
  for (const s of stems) if (s !== 'cifar' && s !== 'imagenet') throw new UsageError(`bench conv: --stem takes cifar and/or imagenet, got '${s}'`);
  const rt = await getRuntime({ adapter: values.adapter });
  const adapter = rt.ctx.info.description || rt.ctx.info.device;
  const tuning = await tuneMatmul(rt, { log: values.json ? undefined : (line) => process.stdout.write(`${line}\n`) });
  const out = (line: string) => { if (!values.json) process.stdout.write(`${line}\n`); };
  out(`adapter: ${adapter}; GEMM design ${tuning.variant}; batch ${batch}; median of ${runs} runs after a warm-up`);
  out(`GFLOP/s = 2*M*K*Cout / time for each pass (M = N*Ho*Wo, K = KH*KW*Cin); dW/fwd is the ratio of the two rates`);
  for (const stem of stems as ('cifar' | 'imagenet')[]) {
    const size = stem === 'cifar' ? 32 : 224;
    out(`\n${stem} stem, ${size}x${size} input`);
    out(`${'layer'.padEnd(30)}${'fwd ms'.padStart(9)}${'GFLOP/s'.padStart(9)}${'dX ms'.padStart(9)}${'GFLOP/s'.padStart(9)}${'dW ms'.padStart(9)}${'GFLOP/s'.padStart(9)}${'dW/fwd'.padStart(8)}`);
    for (const layer of resnet18Convs(stem, size)) {
      if (values.layers && !layer.name.includes(values.layers)) continue;
      const xShape = [batch, layer.H, layer.W, layer.C], wShape = [layer.Cout, layer.k, layer.k, layer.C];
      const opts = { stride: layer.stride, padding: layer.pad };
      const g = convGeometry(xShape, wShape, opts);
      const x = Tensor.upload(rt, uniformArray(g.N * g.H * g.W * g.C, 1, 1, -1, 1), xShape);
      const w = Tensor.upload(rt, uniformArray(g.Cout * g.K, 1, 2, -1, 1), wShape);
      const dy = Tensor.upload(rt, uniformArray(g.M * g.Cout, 1, 3, -1, 1), [g.N, g.Ho, g.Wo, g.Cout]);
      const flops = 2 * g.M * g.K * g.Cout;
      const fwd = await timeIt(rt, runs, () => conv2d(x, w, null, opts).dispose());
      // The stem's input gradient is never needed in training (the input is data), but it is timed all the same.
      const dX = await timeIt(rt, runs, () => conv2dBackwardInput(dy, w, xShape, opts).dispose());
      const dW = await timeIt(rt, runs, () => conv2dBackwardWeight(dy, x, wShape, opts).dispose());
      x.dispose(); w.dispose(); dy.dispose();
      const rate = (s: number) => flops / s / 1e9;
      if (values.json) {
        process.stdout.write(`${JSON.stringify({ bench: 'conv', adapter, design: tuning.variant, stem, layer: layer.name, batch, ...g, flops, forwardSeconds: fwd, inputGradSeconds: dX, weightGradSeconds: dW, forwardGflops: rate(fwd), inputGradGflops: rate(dX), weightGradGflops: rate(dW) })}\n`);
      }
      out(`${layer.name.padEnd(30)}${(fwd * 1e3).toFixed(1).padStart(9)}${rate(fwd).toFixed(1).padStart(9)}${(dX * 1e3).toFixed(1).padStart(9)}${rate(dX).toFixed(1).padStart(9)}${(dW * 1e3).toFixed(1).padStart(9)}${rate(dW).toFixed(1).padStart(9)}${(fwd / dW).toFixed(2).padStart(8)}`);
    }
  }
  return 0;
}
