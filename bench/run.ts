// `npm run bench -- <name> [flags]`: the same benchmarks as `saln bench`.
import { run } from './cli.ts';
import { closeRuntime } from '../src/gpu/runtime.ts';

try {
  process.exitCode = await run(process.argv.slice(2));
} catch (e) {
  process.stderr.write(`bench: ${(e as Error).message}\n`);
  process.exitCode = 1;
} finally {
  await closeRuntime();
}
