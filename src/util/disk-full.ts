// The one line a full disk (or an exhausted quota) gets: which file, how many bytes it needed, and how many were
// free, so that the user knows how much room to make rather than only that a write failed.
import { statfsSync } from 'node:fs';
import { dirname } from 'node:path';

const FULL_CODES = new Set(['ENOSPC', 'EDQUOT']);

export function isDiskFull(error: unknown): boolean {
  return FULL_CODES.has((error as NodeJS.ErrnoException)?.code ?? '');
}

/** `PATH: the disk is full (ENOSPC): it needs N bytes (M MiB), F are free on its file system; ...` (after "cannot write "). */
export function diskFullMessage(path: string, error: unknown, bytesNeeded: number): string {
  const code = (error as NodeJS.ErrnoException).code;
  let free = '';
  try {
    const fs = statfsSync(dirname(path));
    free = `, ${bytes(Number(fs.bavail) * Number(fs.bsize))} are free on its file system`;
  } catch {
    // statfs is missing on some platforms; the size needed is what matters most
  }
  const why = code === 'EDQUOT' ? 'the disk quota is exhausted' : 'the disk is full';
  return `${path}: ${why} (${code}): it needs ${bytes(bytesNeeded)}${free}; free some space (or pass another --out) and run again`;
}

/** 2,874,136 bytes (2.7 MiB): exact for comparing with `df -B1`, rounded for reading. */
export function bytes(n: number): string {
  const exact = String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  if (n < 1024) return `${exact} bytes`;
  return n < 2 ** 30 ? `${exact} bytes (${(n / 2 ** 20).toFixed(1)} MiB)` : `${exact} bytes (${(n / 2 ** 30).toFixed(1)} GiB)`;
}
