// Matmul GFLOP/s (2*M*N*K per call) of every design on the shapes that matter for ResNet-18 training; under
// --peers, TF.js on 1024^3 (or on --shapes) against our default design, every result checked against float64.
import { UsageError } from '../src/util/errors.ts';
import { Tensor } from '../src/tensor.ts';
import { uniformArray } from '../src/rng.ts';
import { availableMatmulVariants, matmul, MATMUL_VARIANTS, type MatmulVariant } from '../src/ops/matmul.ts';
import type { SuiteContext } from './context.ts';
import { measure } from './measure.ts';
import { agreement, matmulSamples } from './check.ts';
import { listOf } from './options.ts';

const DEFAULT_SHAPES = '256x256x256,1024x1024x1024,2048x2048x2048,4096x64x576,1024x512x4608';
const DEFAULT_PEER_SHAPES = '1024x1024x1024';

function parseShapes(text: string): [number, number, number][] {
  return text.split(',').map((s) => {
    const dims = s.split('x').map(Number);
    if (dims.length !== 3 || !dims.every((d) => Number.isInteger(d) && d > 0)) throw new UsageError(`bench matmul: bad shape '${s}' (want MxNxK)`);
    return dims as [number, number, number];
  });
}

export async function run(ctx: SuiteContext): Promise<void> {
  const { rt, report, values, runs, design } = ctx;
  const shapes = parseShapes(values.shapes ?? DEFAULT_SHAPES);
  const available = availableMatmulVariants(rt);
  const variants = values.variants ? listOf('variants', values.variants, MATMUL_VARIANTS) : available;
  for (const v of variants) if (!available.includes(v)) throw new UsageError(`bench matmul: this adapter cannot run the '${v}' design`);
  const peers = await ctx.peers();
  // The peers are compared with the design we use by default, so that one is always measured with them.
  const peerShapes = peers ? parseShapes(values.shapes ?? DEFAULT_PEER_SHAPES) : [];
  report.line(`GFLOP/s = 2*M*N*K / time, operand packing included; * marks the design used by default; ratio = ours/peer speed`);
  const key = (s: number[]) => s.join('x');
  const allShapes = [...shapes, ...peerShapes.filter((p) => !shapes.some((s) => key(s) === key(p)))];
  for (const [M, N, K] of allShapes) {
    const name = `${M}x${N}x${K}`;
    const aData = uniformArray(M * K, 3, 1, -1, 1), bData = uniformArray(K * N, 3, 2, -1, 1);
    const compared = peerShapes.some((p) => key(p) === name);
    const inTable = shapes.some((s) => key(s) === name);
    const mine: MatmulVariant[] = inTable ? [...variants] : [];
    if (compared && !mine.includes(design)) mine.push(design);
    const samples = compared ? matmulSamples(aData, bData, M, N, K) : [];
    const a = Tensor.upload(rt, aData, [M, K]);
    const b = Tensor.upload(rt, bData, [K, N]);
    try {
      for (const variant of mine) {
        let last: Tensor | null = null;
        const seconds = await measure(runs, () => { last?.dispose(); last = matmul(a, b, { variant }); }, () => rt.sync('bench matmul'));
        const extra: Record<string, unknown> = { M, N, K, variant, default: variant === design };
        if (compared && variant === design) Object.assign(extra, checked('saln', name, agreement(await last!.download(), samples)));
        last!.dispose();
        report.figure({ suite: 'matmul', case: name, engine: 'saln', seconds, work: 2 * M * N * K, scale: 1e9, unit: 'GFLOP/s', extra, baseline: variant === design });
      }
    } finally {
      a.dispose(); b.dispose();
    }
    if (!compared || !peers) continue;
    for (const peer of peers.available) {
      const result = await peer.matmul(runs, M, N, K, aData, bData);
      const extra = { M, N, K, ...checked(peer.engine, name, agreement(result.outputs[0], samples)) };
      report.figure({ suite: 'matmul', case: name, engine: peer.engine, seconds: result.seconds, work: 2 * M * N * K, scale: 1e9, unit: 'GFLOP/s', extra });
    }
  }
}

/** The agreement fields of a record; a wrong result stops the bench, since its speed would mean nothing. */
export function checked(engine: string, what: string, a: ReturnType<typeof agreement>): Record<string, unknown> {
  if (!a.agrees) throw new Error(`${engine} computed a wrong result on ${what}: ${a.detail}`);
  return { agrees: true, checkedSamples: a.samples, maxError: a.maxError };
}
