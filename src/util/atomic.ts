// Files that readers (or a crash) must never see half-written: write a temp file beside the target, then rename.
// The one implementation every writer uses (checkpoints, caches, reports, tuning): `durable` adds the fsyncs a
// checkpoint needs to survive a power cut, not only a crash.
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { diskFullMessage, isDiskFull } from './disk-full.ts';

export interface AtomicWriteOptions {
  /** fsync the file before the rename and its directory after it. */
  durable?: boolean;
  /** Create the directory first (default true). */
  createDirectory?: boolean;
  /** Builds the error thrown from its one-line message; without it only a full disk is reworded. */
  error?: (message: string) => Error;
  /** Bytes the file takes, for the message on a full disk, when the parts are produced lazily. */
  size?: number;
}

/**
 * Writes `contents` (text, bytes, or byte parts in order, possibly produced as they are written) to `path` through
 * `${path}.tmp-${pid}` and a rename.
 */
export function writeFileAtomic(path: string, contents: string | Uint8Array | Iterable<Uint8Array>, options: AtomicWriteOptions = {}): void {
  if (options.createDirectory ?? true) mkdirSync(dirname(path), { recursive: true });
  const parts = typeof contents === 'string' ? [Buffer.from(contents, 'utf8')] : contents instanceof Uint8Array ? [contents] : contents;
  const temp = `${path}.tmp-${process.pid}`;
  let fd: number | undefined;
  try {
    fd = openSync(temp, 'w');
    for (const part of parts) writeAll(fd, part);
    if (options.durable) fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(temp, path);
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    rmSync(temp, { force: true });
    const make = options.error ?? ((message: string) => new Error(message));
    if (isDiskFull(e)) throw make(`cannot write ${diskFullMessage(path, e, options.size ?? (Array.isArray(parts) ? parts.reduce((total, part) => total + part.byteLength, 0) : 0))}`);
    if (options.error) throw make(`${path}: cannot write (${String((e as Error)?.message ?? e).replace(/\s+/g, ' ').trim()})`);
    throw e;
  }
  if (options.durable) syncDirectory(dirname(path));
}

function writeAll(fd: number, bytes: Uint8Array): void {
  for (let done = 0; done < bytes.length;) done += writeSync(fd, bytes, done, Math.min(bytes.length - done, 1 << 30));
}

/** Makes the rename itself durable; best effort, since some platforms cannot open a directory. */
function syncDirectory(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // The file is complete either way; only its survival across a power cut is less certain.
  }
}
