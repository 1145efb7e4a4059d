// The `saln` binary: runs the command line, then closes the GPU device so that the process exits by itself.
import { runCli } from './cli.ts';

try {
  process.exitCode = await runCli(process.argv.slice(2));
} finally {
  const { closeRuntime } = await import('../gpu/runtime.ts');
  await closeRuntime().catch(() => {});
}
