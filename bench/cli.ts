// `saln bench <name>` / `npm run bench -- <name>`: benchmarks print the figure, the shape and the settings.
import { UsageError } from '../src/cli/args.ts';

const BENCHES: Record<string, () => Promise<{ run(argv: string[]): Promise<number> }>> = {
  matmul: () => import('./matmul.ts'),
  conv: () => import('./conv.ts'),
  step: () => import('./step.ts'),
  data: () => import('./data.ts'),
  select: () => import('./select.ts'),
};

const HELP = `usage: saln bench <${Object.keys(BENCHES).join('|')}> [--json] [options]
  matmul   GFLOP/s of every matmul design at 256^3, 1024^3, 2048^3, 4096x64x576 and 1024x512x4608
           (median of --runs runs after a warm-up; --shapes MxNxK,... to choose others)
  conv     forward, input-gradient and weight-gradient time and GFLOP/s of each distinct ResNet-18 conv,
           CIFAR stem at 32x32 and ImageNet stem at 224x224, batch 32 (--batch, --stem, --layers, --runs)
  step     a full ResNet-18 training step (forward, backward, SGD) in images/s, batch 32 of 32x32x3,
           CIFAR and ImageNet stems (--batch, --size, --stem, --width, --runs)
  data     loader throughput (images/s): Fashion-MNIST, and a JPEG set decoded, cached and batched
  select   SALN selection time (features to indices) for B = 64..512, and GPU Lanczos against CPU Jacobi
`;

export async function run(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h') { process.stdout.write(HELP); return name ? 0 : 1; }
  const load = BENCHES[name];
  if (!load) throw new UsageError(`bench: unknown benchmark '${name}'; one of ${Object.keys(BENCHES).join(', ')}`);
  return (await load()).run(rest);
}
