// Files that readers (or a crash) must never see half-written: write a temp file beside the target, then rename.
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { diskFullMessage, isDiskFull } from './disk-full.ts';

export function writeFileAtomic(path: string, contents: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const temp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(temp, contents);
    renameSync(temp, path);
  } catch (e) {
    rmSync(temp, { force: true });
    if (isDiskFull(e)) throw new Error(`cannot write ${diskFullMessage(path, e, typeof contents === 'string' ? Buffer.byteLength(contents) : contents.byteLength)}`);
    throw e;
  }
}
