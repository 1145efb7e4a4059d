// `saln <command>`: one file per sub-command; this file only dispatches and turns errors into one line (and, for
// a usage error, the command's usage line). main.ts runs it for the binary; tests call runCli in-process.
import { ENVIRONMENT, settings } from '../util/settings.ts';
const COMMANDS: Record<string, { summary: string; load: () => Promise<{ run(argv: string[]): Promise<number> }> }> = {
  info: { summary: 'adapter, backend, driver, limits and features of the WebGPU device', load: () => import('./info.ts') },
  validate: { summary: "run every kernel's validation cases against its float64 CPU reference", load: () => import('./validate.ts') },
  train: { summary: 'train ResNet-18 on a dataset (checkpoints, metrics.jsonl, summary.json, report.html)', load: () => import('./train.ts') },
  compare: { summary: 'train with several batch selectors on the same budget and report which wins (summary.md, report.html)', load: () => import('./compare.ts') },
  eval: { summary: "a trained model on a test split, with its run's preprocessing: accuracy per class, confusion matrix", load: () => import('./eval.ts') },
  predict: { summary: 'top-k classes with probabilities for PNG/JPEG files or directories of them', load: () => import('./predict.ts') },
  study: { summary: 'the selection study: conditions x selectors x keep ratios x seeds, resumable, with paired statistics', load: () => import('./study.ts') },
  data: { summary: 'download and list data sets (CIFAR-10/100, Oxford-IIIT Pet, Fashion-MNIST, MNIST)', load: () => import('./data.ts') },
  tune: { summary: 'measure the matmul designs on this adapter and cache the fastest', load: () => import('./tune.ts') },
  // The benchmarks ship with the package (package.json "files") but are not library code: they drive peers
  // (TensorFlow.js, PyTorch) and print tables. The sub-command loads them lazily from bench/ so that `saln bench`
  // works where the package is installed, while nothing in src/ imports them.
  bench: { summary: 'kernel benchmarks (e.g. `saln bench matmul`)', load: () => import('../../bench/cli.ts') },
};

export const USAGE = `saln: a WebGPU compute engine that trains ResNet-18 from Node, with spectral joint batch selection

usage: saln <command> [options]

commands:
${Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`).join('\n')}

global options:
  --adapter NAME   use the WebGPU adapter whose name contains NAME (also SALN_ADAPTER)
  -h, --help       show help (after a command: that command's help)

environment:
${ENVIRONMENT.map(([name, text]) => `  ${name.padEnd(22)} ${text}`).join('\n')}
`;

async function dispatch(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '-h' || command === '--help' || command === 'help') {
    process.stdout.write(USAGE);
    return command ? 0 : 1;
  }
  const entry = COMMANDS[command];
  if (!entry) {
    process.stderr.write(`saln: unknown command '${command}'; run 'saln --help' for the list\n`);
    return 2;
  }
  const module = await entry.load();
  try {
    return await module.run(rest);
  } catch (error) {
    if ((error as Error)?.name === 'UsageError') (error as Error & { usage?: string }).usage = await usageOf(module);
    throw error;
  }
}

/**
 * The `usage:` lines of a command's help. Every command prints its help for --help before doing anything else,
 * so asking it keeps one copy of each usage line, in the command's own file.
 */
async function usageOf(module: { run(argv: string[]): Promise<number> }): Promise<string> {
  let help = '';
  const write = process.stdout.write;
  process.stdout.write = ((chunk: string | Uint8Array) => { help += String(chunk); return true; }) as typeof process.stdout.write;
  try {
    await module.run(['--help']);
  } catch {
    return '';
  } finally {
    process.stdout.write = write;
  }
  const lines = help.split('\n');
  const first = lines.findIndex((line) => line.startsWith('usage:'));
  if (first < 0) return '';
  let last = first;
  while (last + 1 < lines.length && /^\s+saln /.test(lines[last + 1])) last++;
  return lines.slice(first, last + 1).join('\n');
}

/** Runs one command line and returns its exit status: 0 done, 1 failed, 2 a usage error. */
export async function runCli(argv: string[], stderr: { write(text: string): unknown } = process.stderr): Promise<number> {
  try {
    return await dispatch(argv);
  } catch (error) {
    // Users get one line naming the cause and the fix (after a usage error, the command's usage line too);
    // developers ask for the stack with SALN_DEBUG=1.
    const e = error as Error & { usage?: string };
    stderr.write(settings.debug ? `${e?.stack ?? e}\n` : `saln: ${e?.message ?? e}\n`);
    if (e?.usage) stderr.write(`${e.usage}\n`);
    return e?.name === 'UsageError' ? 2 : 1;
  }
}
