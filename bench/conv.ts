// Conv2d GFLOP/s: forward, input gradient and weight gradient of each distinct ResNet-18 conv; then the conv
// layer that the peers run too (batch 32, 32x32x64 -> 3x3x64x64, stride 1, same padding), forward alone and
// forward + both gradients, every result checked against float64 at sampled outputs.
import { Tensor } from '../src/tensor.ts';
import { uniformArray } from '../src/rng.ts';
import { conv2d, conv2dBackwardInput, conv2dBackwardWeight, convGeometry } from '../src/ops/conv.ts';
import type { Runtime } from '../src/gpu/runtime.ts';
import type { SuiteContext } from './context.ts';
import { measure } from './measure.ts';
import { agreement, convForwardSamples, convInputGradSamples, convWeightGradSamples, ohwiToHwio, ohwiToHwioIndex, type ConvShape } from './check.ts';
import { checked } from './matmul.ts';
import { listOf, positiveInt } from './options.ts';
import { resnet18Convs } from './resnet-convs.ts';

export async function run(ctx: SuiteContext): Promise<void> {
  const { rt, report, values, runs } = ctx;
  const batch = positiveInt('batch', values.batch, 32);
  const stems = listOf('stem', values.stem ?? 'cifar,imagenet', ['cifar', 'imagenet'] as const);
  report.line(`GFLOP/s = 2*M*K*Cout / time for each pass (M = N*Ho*Wo, K = KH*KW*Cin); batch ${batch}`);
  for (const stem of stems) {
    const size = stem === 'cifar' ? 32 : 224;
    report.line(`${stem} stem, ${size}x${size} input`);
    for (const layer of resnet18Convs(stem, size)) {
      if (values.layers && !layer.name.includes(values.layers)) continue;
      const xShape = [batch, layer.H, layer.W, layer.C], wShape = [layer.Cout, layer.k, layer.k, layer.C];
      const opts = { stride: layer.stride, padding: layer.pad };
      const g = convGeometry(xShape, wShape, opts);
      const x = Tensor.upload(rt, uniformArray(g.N * g.H * g.W * g.C, 1, 1, -1, 1), xShape);
      const w = Tensor.upload(rt, uniformArray(g.Cout * g.K, 1, 2, -1, 1), wShape);
      const dy = Tensor.upload(rt, uniformArray(g.M * g.Cout, 1, 3, -1, 1), [g.N, g.Ho, g.Wo, g.Cout]);
      const flops = 2 * g.M * g.K * g.Cout;
      const sync = () => rt.sync('bench conv');
      // The stem's input gradient is never needed in training (the input is data), but it is timed all the same.
      const passes: [string, () => Tensor][] = [
        ['forward', () => conv2d(x, w, null, opts)],
        ['input grad', () => conv2dBackwardInput(dy, w, xShape, opts)],
        ['weight grad', () => conv2dBackwardWeight(dy, x, wShape, opts)],
      ];
      try {
        for (const [pass, call] of passes) {
          const seconds = await measure(runs, () => call().dispose(), sync);
          report.figure({ suite: 'conv', case: `${stem} ${layer.name} ${pass}`, engine: 'saln', seconds, work: flops, scale: 1e9, unit: 'GFLOP/s', extra: { stem, layer: layer.name, pass, batch, ...g, flops } });
        }
      } finally {
        x.dispose(); w.dispose(); dy.dispose();
      }
    }
  }
  await convLayer(ctx, batch);
}

/** The one conv layer measured against the peers. */
async function convLayer(ctx: SuiteContext, batch: number): Promise<void> {
  const { rt, report, runs } = ctx;
  const g: ConvShape = { N: batch, H: 32, W: 32, C: 64, Cout: 64, k: 3, stride: 1, pad: 1, Ho: 32, Wo: 32 };
  const name = `b${batch} 32x32x64 -> 3x3x64x64 s1 same`;
  report.line(`the conv layer ${name}: forward = 2*N*H*W*9*64*64 FLOPs, forward + both gradients = 3x that; ratio = ours/peer speed`);
  const xData = uniformArray(g.N * g.H * g.W * g.C, 5, 1, -1, 1);
  const wData = uniformArray(g.Cout * 9 * g.C, 5, 2, -1, 1);
  const dyData = uniformArray(g.N * g.Ho * g.Wo * g.Cout, 5, 3, -1, 1);
  const flops = 2 * g.N * g.Ho * g.Wo * g.k * g.k * g.C * g.Cout;
  const refY = convForwardSamples(xData, wData, g);
  const refDx = convInputGradSamples(dyData, wData, g);
  const refDw = convWeightGradSamples(dyData, xData, g);
  const extraOf = (pass: string) => ({ pass, batch, H: g.H, W: g.W, C: g.C, Cout: g.Cout, k: g.k, stride: g.stride, flops: pass === 'forward' ? flops : 3 * flops });

  const ours = await oursConvLayer(rt, runs, g, xData, wData, dyData);
  report.figure({ suite: 'conv', case: `${name} forward`, engine: 'saln', seconds: ours.forward, work: flops, scale: 1e9, unit: 'GFLOP/s', extra: { ...extraOf('forward'), ...checked('saln', 'the conv forward', agreement(ours.y, refY)) } });
  report.figure({
    suite: 'conv', case: `${name} forward+backward`, engine: 'saln', seconds: ours.both, work: 3 * flops, scale: 1e9, unit: 'GFLOP/s',
    extra: { ...extraOf('forward+backward'), ...checked('saln', 'the conv input gradient', agreement(ours.dx, refDx)), ...prefixed('weightGrad', checked('saln', 'the conv weight gradient', agreement(ours.dw, refDw))) },
  });

  const peers = await ctx.peers();
  if (!peers) return;
  const peerCase = { xShape: [g.N, g.H, g.W, g.C] as [number, number, number, number], filterShape: [3, 3, g.C, g.Cout] as [number, number, number, number], stride: 1, pad: 1 };
  const filter = ohwiToHwio(wData, g);
  const toHwio = ohwiToHwioIndex(g);
  for (const peer of peers.available) {
    const fwd = await peer.conv(runs, peerCase, xData, filter, null);
    report.figure({ suite: 'conv', case: `${name} forward`, engine: peer.engine, seconds: fwd.seconds, work: flops, scale: 1e9, unit: 'GFLOP/s', extra: { ...extraOf('forward'), ...checked(peer.engine, 'the conv forward', agreement(fwd.outputs[0], refY)) } });
    const both = await peer.conv(runs, peerCase, xData, filter, dyData);
    report.figure({
      suite: 'conv', case: `${name} forward+backward`, engine: peer.engine, seconds: both.seconds, work: 3 * flops, scale: 1e9, unit: 'GFLOP/s',
      extra: { ...extraOf('forward+backward'), ...checked(peer.engine, 'the conv input gradient', agreement(both.outputs[0], refDx)), ...prefixed('weightGrad', checked(peer.engine, 'the conv weight gradient', agreement(both.outputs[1], refDw, toHwio))) },
    });
  }
}

async function oursConvLayer(rt: Runtime, runs: number, g: ConvShape, xData: Float32Array, wData: Float32Array, dyData: Float32Array) {
  const xShape = [g.N, g.H, g.W, g.C], wShape = [g.Cout, g.k, g.k, g.C];
  const opts = { stride: g.stride, padding: g.pad };
  const x = Tensor.upload(rt, xData, xShape), w = Tensor.upload(rt, wData, wShape), dy = Tensor.upload(rt, dyData, [g.N, g.Ho, g.Wo, g.Cout]);
  const sync = () => rt.sync('bench conv layer');
  let outs: Tensor[] = [];
  const keep = (...ts: Tensor[]) => { for (const t of outs) t.dispose(); outs = ts; };
  try {
    const forward = await measure(runs, () => keep(conv2d(x, w, null, opts)), sync);
    const y = Float32Array.from(await outs[0].download());
    const both = await measure(runs, () => keep(conv2d(x, w, null, opts), conv2dBackwardInput(dy, w, xShape, opts), conv2dBackwardWeight(dy, x, wShape, opts)), sync);
    const dx = Float32Array.from(await outs[1].download());
    const dw = Float32Array.from(await outs[2].download());
    return { forward, both, y, dx, dw };
  } finally {
    keep();
    x.dispose(); w.dispose(); dy.dispose();
  }
}

function prefixed(prefix: string, fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).map(([k, v]) => [`${prefix}${k[0].toUpperCase()}${k.slice(1)}`, v]));
}
