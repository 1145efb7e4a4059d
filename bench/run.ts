// `npm run bench -- [suite ...] [flags]`: the same benchmarks as `saln bench`; a usage error exits 2.
import { run, USAGE } from './cli.ts';
import { closeRuntime } from '../src/gpu/runtime.ts';

try {
  process.exitCode = await run(process.argv.slice(2));
} catch (e) {
  const error = e as Error;
  process.stderr.write(process.env.SALN_DEBUG === '1' ? `${error?.stack ?? error}\n` : `bench: ${(error?.message ?? String(error)).replace(/^bench: /, '')}\n`);
  if (error?.name === 'UsageError') {
    process.stdout.write(USAGE);
    process.exitCode = 2;
  } else {
    process.exitCode = 1;
  }
} finally {
  await closeRuntime().catch(() => {});
}
