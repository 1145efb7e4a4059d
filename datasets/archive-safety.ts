// An archive is read through once before anything is unpacked: a verified checksum only proves the bytes are the
// ones the catalog names, not that they are harmless. Entries that would land outside the data set's directory
// (a '..' component, an absolute path, a symbolic or hard link pointing outside), device files, and a
// decompression bomb (declared sizes beyond a bound) stop the download, naming the entry, before one byte is
// written. The scan stops at the first bad entry, so a bomb is never inflated in full.
import { createReadStream, statSync } from 'node:fs';
import { isAbsolute, posix, relative, resolve } from 'node:path';
import { Parser, type ReadEntry } from 'tar';

export class UnsafeArchiveError extends Error {
  override name = 'UnsafeArchiveError';
}

/** The bound on what an archive may unpack to: generous for real data sets (they compress a few times at most). */
export function defaultUnpackLimit(archiveBytes: number): number {
  return Math.max(2 ** 30, 20 * archiveBytes);
}

const REGULAR = new Set(['File', 'OldFile', 'ContiguousFile', 'Directory']);
// Headers that only carry metadata for the next entry (long names, pax attributes): never written as files.
const METADATA = new Set(['ExtendedHeader', 'GlobalExtendedHeader', 'NextFileHasLongPath', 'NextFileHasLongLinkpath', 'OldGnuLongPath', 'GNUDumpDir', 'SparseFile']);

/**
 * Resolves once every entry of `archive` is safe to unpack into `dir`; rejects naming the first that is not (an
 * UnsafeArchiveError), or with the tar parser's own error when the file is not a readable tar.
 */
export function checkArchive(archive: string, dir: string, maxUnpackedBytes = defaultUnpackLimit(statSync(archive).size)): Promise<void> {
  const root = resolve(dir);
  const inside = (target: string) => {
    const rel = relative(root, target);
    return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
  };
  let declared = 0;
  return new Promise((done, fail) => {
    const input = createReadStream(archive);
    const parser = new Parser({ strict: true });
    let settled = false;
    const refuse = (entry: ReadEntry | null, why: string) => {
      if (settled) return;
      settled = true;
      input.destroy();
      fail(new UnsafeArchiveError(`${archive}: refused to unpack${entry ? `: entry '${printable(entry.path)}'` : ''} ${why}; nothing was written. It passed its checksum, so the published archive itself is unsafe: do not unpack it by hand`));
    };
    parser.on('entry', (entry: ReadEntry) => {
      const name = entry.path;
      const type = entry.type as string;
      if (isAbsolute(name) || /^[a-zA-Z]:|^\\/.test(name)) refuse(entry, 'has an absolute path');
      else if (name.split(/[\\/]/).includes('..')) refuse(entry, "climbs out of the data directory with '..'");
      else if (!inside(resolve(root, name))) refuse(entry, `would be written outside ${root}`);
      else if (type === 'SymbolicLink') {
        const target = entry.linkpath ?? '';
        if (isAbsolute(target) || !inside(resolve(root, posix.dirname(name), target))) refuse(entry, `is a symbolic link to '${printable(target)}', outside ${root}`);
      } else if (type === 'Link') {
        const target = entry.linkpath ?? '';
        if (isAbsolute(target) || target.split(/[\\/]/).includes('..') || !inside(resolve(root, target))) refuse(entry, `is a hard link to '${printable(target)}', outside ${root}`);
      } else if (!REGULAR.has(type) && !METADATA.has(type)) refuse(entry, `is a ${type} (only files, directories and links inside the set are unpacked)`);
      declared += entry.size ?? 0;
      if (declared > maxUnpackedBytes) refuse(entry, `takes the unpacked size past ${maxUnpackedBytes} bytes (a decompression bomb: the archive is ${statSync(archive).size} bytes)`);
      entry.resume();
    });
    // Not a tar at all is no attack: the caller keeps the verified file and says it cannot unpack it.
    parser.on('error', (e: Error) => {
      if (settled) return;
      settled = true;
      input.destroy();
      fail(e);
    });
    parser.on('end', () => { if (!settled) { settled = true; done(); } });
    input.on('error', (e) => refuse(null, `cannot be read (${(e as NodeJS.ErrnoException).code ?? e.message})`));
    input.pipe(parser as unknown as NodeJS.WritableStream);
  });
}

/** Entry names come from the archive: control characters would break the one-line message. */
function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\u0000-\u001f\u007f]/g, '?');
  return clean.length > 120 ? `${clean.slice(0, 117)}...` : clean;
}
