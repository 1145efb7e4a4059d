// --out checked before any data is read or the GPU started: a file, or a directory that cannot be written (a
// read-only mount, no permission), would otherwise fail at the first checkpoint, minutes into the run.
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../util/args.ts';

export function checkOutputDir(command: string, out: string): void {
  if (existsSync(out) && !statSync(out).isDirectory()) throw new UsageError(`${command}: --out ${out} is a file, not a directory; pass a directory (it is created if missing)`);
  const code = (e: unknown) => (e as NodeJS.ErrnoException).code ?? (e as Error).message;
  try {
    mkdirSync(out, { recursive: true });
  } catch (e) {
    throw new UsageError(`${command}: cannot create --out ${out} (${code(e)}${code(e) === 'ENOTDIR' || code(e) === 'EEXIST' ? ': a parent is a file' : ''}); pass a writable directory`);
  }
  // Permission bits do not say it for root or a read-only mount: writing a file does.
  const probe = join(out, `.saln-write-probe-${process.pid}`);
  try {
    writeFileSync(probe, '');
  } catch (e) {
    throw new UsageError(`${command}: --out ${out} is not writable (${code(e)}); pass a writable directory`);
  } finally {
    rmSync(probe, { force: true });
  }
}
