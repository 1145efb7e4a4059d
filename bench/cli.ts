// `saln bench <name>` / `npm run bench -- <name>`: benchmarks print the figure, the shape and the settings.
import { UsageError } from '../src/cli/args.ts';

const BENCHES: Record<string, () => Promise<{ run(argv: string[]): Promise<number> }>> = {
  matmul: () => import('./matmul.ts'),
};

const HELP = `usage: saln bench <${Object.keys(BENCHES).join('|')}> [--json] [options]
  matmul   GFLOP/s of every matmul design at 256^3, 1024^3, 2048^3, 4096x64x576 and 1024x512x4608
           (median of --runs runs after a warm-up; --shapes MxNxK,... to choose others)
`;

export async function run(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h') { process.stdout.write(HELP); return name ? 0 : 1; }
  const load = BENCHES[name];
  if (!load) throw new UsageError(`bench: unknown benchmark '${name}'; one of ${Object.keys(BENCHES).join(', ')}`);
  return (await load()).run(rest);
}
