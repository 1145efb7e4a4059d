// The `saln` binary: runs the command line, then closes the GPU device so that the process exits by itself.
import { runCli } from './cli.ts';

// `saln study list | head`: the reader went away, which is how pipes end, not an error worth a stack trace.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});

try {
  process.exitCode = await runCli(process.argv.slice(2));
} finally {
  const { closeRuntime } = await import('../gpu/runtime.ts');
  await closeRuntime().catch(() => {});
}
