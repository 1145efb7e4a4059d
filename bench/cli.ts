// `npm run bench -- [suite ...] [flags]` / `saln bench ...`: runs the suites in order on one device, one table
// line or JSON record per figure, the peers beside ours under --peers.
import { getRuntime } from '../src/gpu/runtime.ts';
import { tuneMatmul } from '../src/ops/tuning.ts';
import { parseBenchArgs, USAGE, type SuiteName } from './options.ts';
import { Reporter } from './report.ts';
import type { Suite, SuiteContext } from './context.ts';
import type { Peers } from './peers/peers.ts';

const SUITE_MODULES: Record<SuiteName, () => Promise<Suite>> = {
  matmul: () => import('./matmul.ts'),
  conv: () => import('./conv.ts'),
  bn: () => import('./bn.ts'),
  step: () => import('./step.ts'),
  select: () => import('./select.ts'),
  data: () => import('./data.ts'),
};

export { USAGE };

export async function run(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  const { suites, values, runs } = parseBenchArgs(argv);
  const report = new Reporter(values.json === true, values.out);
  const rt = await getRuntime({ adapter: values.adapter });
  const tuning = await tuneMatmul(rt, { log: (line) => report.line(line) });
  report.adapter = rt.ctx.info.description || rt.ctx.info.device;
  report.design = tuning.variant;
  report.line(`adapter: ${report.adapter} (${rt.ctx.info.backend}); GEMM design: ${tuning.variant}`);
  report.line(`each figure: median of ${runs} timed run${runs === 1 ? '' : 's'} after a warm-up, [min .. max] beside it`);

  let peers: Promise<Peers | null> | null = null;
  const ctx: SuiteContext = {
    rt, report, values, runs, design: tuning.variant,
    peers: () => {
      peers ??= values.peers || values['peers-imagenet'] ? loadAndDescribePeers(report, values.adapter) : Promise.resolve(null);
      return peers;
    },
  };
  try {
    await ctx.peers(); // loaded up front, so that the header says what they are
    for (const name of suites) {
      report.line(`\n== ${name} ==`);
      await (await SUITE_MODULES[name]()).run(ctx);
      report.save();
    }
  } finally {
    if (peers) await (await import('./peers/peers.ts')).closePeers();
  }
  return 0;
}

async function loadAndDescribePeers(report: Reporter, adapter: string | undefined): Promise<Peers> {
  // Imported here, not at the top: without --peers the TF.js packages need not be installed.
  const { loadPeers } = await import('./peers/peers.ts');
  const peers = await loadPeers({ adapter });
  for (const p of peers.available) report.note(`peer ${p.engine}: ${p.description}`);
  for (const p of peers.unavailable) report.note(`peer ${p.engine}: unavailable: ${p.reason}`);
  for (const n of peers.notes) report.note(`note: ${n}`);
  return peers;
}
