// `saln tune`: measures every matmul design on this adapter and caches the fastest for later runs.
import { parse } from '../util/args.ts';
import { getRuntime } from '../gpu/runtime.ts';
import { tuneMatmul, tuningFile } from '../ops/tuning.ts';

const HELP = `usage: saln tune [--force] [--json] [--adapter NAME]

Times each matmul design on a square and a conv-shaped problem and keeps the fastest for this adapter and
driver (cached in ${tuningFile()}); on the subgroup design, also whether its convs run faster with one or two k
steps per loop iteration (a conv layer's input and weight gradients, timed both ways). Commands that train or
benchmark tune on first use; --force measures again.
`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parse('tune', argv, { force: { type: 'boolean' }, json: { type: 'boolean' } });
  if (values.help) { process.stdout.write(HELP); return 0; }
  const rt = await getRuntime({ adapter: values.adapter });
  const log = values.json ? undefined : (line: string) => process.stdout.write(`${line}\n`);
  const tuning = await tuneMatmul(rt, { force: values.force, log });
  if (values.json) { process.stdout.write(`${JSON.stringify(tuning)}\n`); return 0; }
  for (const [variant, gflops] of Object.entries(tuning.gflops)) {
    process.stdout.write(`${variant.padEnd(10)} ${gflops.toFixed(1).padStart(7)} GFLOP/s${variant === tuning.variant ? '  <- chosen' : ''}\n`);
  }
  if (tuning.kSteps) process.stdout.write(`subgroup convs: ${tuning.kSteps} k step${tuning.kSteps === 2 ? 's' : ''} per loop iteration\n`);
  process.stdout.write(`measured ${tuning.measuredAt}\n`);
  return 0;
}
