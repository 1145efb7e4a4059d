// Matmul GFLOP/s per design on the shapes that matter for ResNet-18 training.
import { parse, UsageError } from '../src/cli/args.ts';
import { getRuntime } from '../src/gpu/runtime.ts';
import { Tensor } from '../src/tensor.ts';
import { uniformArray } from '../src/rng.ts';
import { availableMatmulVariants, matmul, MATMUL_VARIANTS, type MatmulVariant } from '../src/ops/matmul.ts';
import { timeIt, tuneMatmul } from '../src/ops/tuning.ts';

const DEFAULT_SHAPES = '256x256x256,1024x1024x1024,2048x2048x2048,4096x64x576,1024x512x4608';

export async function run(argv: string[]): Promise<number> {
  const { values } = parse('bench matmul', argv, {
    json: { type: 'boolean' }, runs: { type: 'string', default: '5' }, shapes: { type: 'string', default: DEFAULT_SHAPES },
    variants: { type: 'string' },
  });
  if (values.help) { process.stdout.write('usage: saln bench matmul [--json] [--runs N] [--shapes MxNxK,...] [--variants a,b]\n'); return 0; }
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new UsageError(`bench matmul: --runs must be a positive integer, got '${values.runs}'`);
  const shapes = values.shapes!.split(',').map((s) => {
    const dims = s.split('x').map(Number);
    if (dims.length !== 3 || !dims.every((d) => Number.isInteger(d) && d > 0)) throw new UsageError(`bench matmul: bad shape '${s}' (want MxNxK)`);
    return dims as [number, number, number];
  });
  const rt = await getRuntime({ adapter: values.adapter });
  const variants = (values.variants?.split(',') ?? availableMatmulVariants(rt)) as MatmulVariant[];
  for (const v of variants) {
    if (!MATMUL_VARIANTS.includes(v)) throw new UsageError(`bench matmul: unknown variant '${v}'; one of ${MATMUL_VARIANTS.join(', ')}`);
    if (!availableMatmulVariants(rt).includes(v)) throw new UsageError(`bench matmul: this adapter cannot run the '${v}' design`);
  }
  const adapter = rt.ctx.info.description || rt.ctx.info.device;
  const tuning = await tuneMatmul(rt, { log: values.json ? undefined : (line) => process.stdout.write(`${line}\n`) });
  if (!values.json) process.stdout.write(`design used by default on this adapter: ${tuning.variant}\n`);
  if (!values.json) process.stdout.write(`adapter: ${adapter}\nmedian of ${runs} runs after a warm-up; GFLOP/s = 2*M*N*K / time\n${'M x N x K'.padEnd(18)}${variants.map((v) => v.padStart(10)).join('')}\n`);
  for (const [M, N, K] of shapes) {
    const a = Tensor.upload(rt, uniformArray(M * K, 3, 1, -1, 1), [M, K]);
    const b = Tensor.upload(rt, uniformArray(K * N, 3, 2, -1, 1), [K, N]);
    const row: Record<string, number> = {};
    for (const variant of variants) {
      const seconds = await timeIt(rt, runs, () => matmul(a, b, { variant }).dispose());
      row[variant] = (2 * M * N * K) / seconds / 1e9;
      if (values.json) process.stdout.write(`${JSON.stringify({ bench: 'matmul', adapter, M, N, K, variant, seconds, gflops: row[variant] })}\n`);
    }
    a.dispose(); b.dispose();
    if (!values.json) process.stdout.write(`${`${M}x${N}x${K}`.padEnd(18)}${variants.map((v) => row[v].toFixed(1).padStart(10)).join('')}\n`);
  }
  return 0;
}
