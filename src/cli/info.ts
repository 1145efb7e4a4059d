// `saln info`: what the device is, so that a user can tell which adapter and driver the numbers come from.
import { parse } from '../util/args.ts';
import { getRuntime } from '../gpu/runtime.ts';
import { listAdapters } from '../gpu/context.ts';
import { convKSteps, defaultMatmulVariant } from '../ops/matmul.ts';
import { loadTuning } from '../ops/tuning.ts';

const HELP = `usage: saln info [--json] [--adapter NAME]

Prints the WebGPU adapter, backend, driver, the limits the device was created with, its features, the
adapters Dawn can see, and the matmul design chosen for this adapter.
`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parse('info', argv, { json: { type: 'boolean' } });
  if (values.help) { process.stdout.write(HELP); return 0; }
  const adapters = await listAdapters();
  const rt = await getRuntime({ adapter: values.adapter });
  const { info, limits, features } = rt.ctx;
  const tuning = loadTuning(rt);
  const report = {
    adapter: info.description || info.device, vendor: info.vendor, architecture: info.architecture, device: info.device,
    backend: info.backend, driver: info.description, limits, features,
    adapters,
    matmul: { variant: tuning?.variant ?? defaultMatmulVariant(rt), tuned: tuning !== null, gflops: tuning?.gflops ?? null, convKSteps: convKSteps(rt) },
  };
  if (values.json) {
    process.stdout.write(`${JSON.stringify(report)}\n`);
    return 0;
  }
  const rows: [string, string][] = [
    ['adapter', report.adapter], ['vendor', info.vendor], ['architecture', info.architecture], ['backend', info.backend],
    ['driver', info.description], ['adapters seen', report.adapters.join('; ')],
    ['matmul design', `${report.matmul.variant}${report.matmul.tuned ? ' (tuned)' : ' (default; tuned at first training or bench run)'}`],
    ...(report.matmul.variant === 'subgroup' ? [['conv k steps', `${report.matmul.convKSteps} per loop iteration${tuning?.kSteps ? ' (tuned)' : ''}`] as [string, string]] : []),
  ];
  for (const [k, v] of rows) process.stdout.write(`${k.padEnd(16)} ${v}\n`);
  process.stdout.write('limits:\n');
  for (const [k, v] of Object.entries(limits)) process.stdout.write(`  ${k.padEnd(36)} ${v}\n`);
  process.stdout.write(`features: ${features.join(', ')}\n`);
  return 0;
}
