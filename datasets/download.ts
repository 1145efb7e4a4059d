// Fetching a catalog data set: each file over HTTP(S) with a progress bar, resuming a partial `<file>.part`
// with a Range request, verified against its checksum before anything uses it, tar.gz archives unpacked, and
// a marker written so that a verified set is not fetched again. Every failure is one line that says what to
// do next; without a network, that is where to put the files by hand.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { basename, join } from 'node:path';
import { once } from 'node:events';
import * as tar from 'tar';
import { ProgressBar, type ProgressStream } from '../src/util/progress.ts';
import { checkArchive, UnsafeArchiveError } from './archive-safety.ts';
import {
  MARKER_FILE, datasetDir, fileUrls, findFile, locateDataset, markerMatches, readMarker,
  type Checksum, type ChecksumAlgorithm, type DatasetEntry, type VerifiedMarker,
} from './catalog.ts';

export class DownloadError extends Error {
  override name = 'DownloadError';
}

/** The host could not be reached at all: no DNS, connection refused, or no answer in time. */
export class OfflineError extends DownloadError {
  override name = 'OfflineError';
  constructor(message: string, readonly url: string, readonly code: string) {
    super(message);
  }
}

export class ChecksumError extends DownloadError {
  override name = 'ChecksumError';
}

export interface DownloadOptions {
  /** Where the progress bar goes (stderr by default); null for none. */
  progressStream?: ProgressStream | null;
  /** Status lines (which mirror, resuming, verifying); defaults to stderr. */
  log?: (line: string) => void;
  /** How long a connection may stay silent, connecting or mid-transfer. */
  timeoutMs?: number;
  /** How many times a dropped transfer is resumed from the same mirror before trying the next. */
  retries?: number;
  maxRedirects?: number;
}

export interface DownloadResult {
  /** The mirror that served the verified file. */
  url: string;
  bytes: number;
  /** HTTP requests made, redirects not counted. */
  requests: number;
}

const NETWORK_CODES: Record<string, string> = {
  ENOTFOUND: 'DNS lookup failed', EAI_AGAIN: 'DNS lookup failed', ECONNREFUSED: 'connection refused',
  ETIMEDOUT: 'timed out', ENETUNREACH: 'network unreachable', EHOSTUNREACH: 'host unreachable', ECONNRESET: 'connection reset',
};

/** The transfer started and then stopped; what arrived is kept in the .part and the next attempt resumes. */
class DroppedError extends Error {
  constructor(readonly received: number, readonly reason: string) {
    super(`dropped after ${formatBytes(received)} (${reason})`);
  }
}

class HttpStatusError extends Error {
  constructor(readonly status: number, readonly url: string) {
    super(`HTTP ${status} from ${url}`);
  }
}

const errorCode = (e: unknown) => (e as NodeJS.ErrnoException)?.code ?? '';

export async function fileDigest(path: string, algorithm: ChecksumAlgorithm): Promise<string> {
  const hash = createHash(algorithm);
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Fetches `dest` from the first mirror that serves bytes matching `checksum`, through `dest.part`, so an
 * interrupted run resumes where it stopped. `dest` only ever appears verified.
 */
export async function downloadFile(urls: readonly string[], dest: string, checksum: Checksum, options: DownloadOptions = {}): Promise<DownloadResult> {
  const log = options.log ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const retries = options.retries ?? 5;
  if (!urls.length) throw new DownloadError(`${dest}: no URL to fetch it from`);
  const part = `${dest}.part`;
  const name = basename(dest);
  let requests = 0;
  const failures: { url: string; error: unknown }[] = [];
  for (const url of urls) {
    let retriesLeft = retries;
    let fetched = false;
    while (!fetched) {
      requests++;
      try {
        const outcome = await transfer(url, part, name, options);
        // 416: the .part already holds every byte (a run stopped between the last byte and the rename).
        if (outcome === 'range-not-satisfiable' && !(await matches(part, checksum))) {
          rmSync(part, { force: true });
          continue;
        }
        fetched = true;
      } catch (e) {
        if (e instanceof DroppedError && retriesLeft-- > 0) {
          log(`${name}: connection ${e.message}; resuming`);
          continue;
        }
        failures.push({ url, error: e });
        break;
      }
    }
    if (!fetched) continue;
    const got = await fileDigest(part, checksum.algorithm);
    if (got !== checksum.digest) {
      rmSync(part, { force: true });
      failures.push({ url, error: new ChecksumError(`checksum mismatch for ${name} from ${url}: expected ${checksum.algorithm} ${checksum.digest}, got ${got}; the file was removed, so a retry starts clean`) });
      continue;
    }
    renameSync(part, dest);
    return { url, bytes: statSync(dest).size, requests };
  }
  throw summarize(failures, part);
}

function summarize(failures: { url: string; error: unknown }[], part: string): Error {
  if (failures.every(({ error }) => NETWORK_CODES[errorCode(error)] && !(error instanceof DroppedError))) {
    const { url, error } = failures[0];
    const code = errorCode(error);
    return new OfflineError(`cannot reach ${url} (${code}: ${NETWORK_CODES[code]})`, url, code);
  }
  const { url, error } = failures[failures.length - 1];
  const others = failures.length > 1 ? ` (the other mirrors failed too: ${failures.slice(0, -1).map((f) => f.url).join(', ')})` : '';
  if (error instanceof ChecksumError) return error;
  if (error instanceof DroppedError) return new DownloadError(`the download from ${url} ${error.message}; ${part} is kept, run again to resume${others}`);
  if (error instanceof HttpStatusError) return new DownloadError(`${error.message}${others}`);
  return new DownloadError(`cannot download ${url}: ${(error as Error)?.message ?? error}${others}`);
}

async function matches(path: string, checksum: Checksum): Promise<boolean> {
  return existsSync(path) && (await fileDigest(path, checksum.algorithm)) === checksum.digest;
}

/** One request: appends to (or restarts) the .part. Throws DroppedError when the body stops short. */
async function transfer(url: string, part: string, name: string, options: DownloadOptions): Promise<'complete' | 'range-not-satisfiable'> {
  const offset = existsSync(part) ? statSync(part).size : 0;
  const headers: Record<string, string> = { 'user-agent': 'saln-data', 'accept-encoding': 'identity' };
  if (offset > 0) headers.range = `bytes=${offset}-`;
  const response = await open(url, headers, options.timeoutMs ?? 30_000, options.maxRedirects ?? 10);
  const status = response.statusCode ?? 0;
  if (status === 416 && offset > 0) {
    response.resume();
    return 'range-not-satisfiable';
  }
  let start = 0;
  if (status === 206 && offset > 0) {
    const range = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(response.headers['content-range'] ?? '');
    if (!range || Number(range[1]) !== offset) {
      // Not the bytes that were asked for: appending them would corrupt the file, so start over.
      response.destroy();
      rmSync(part, { force: true });
      throw new DroppedError(0, `the server answered a resume with ${response.headers['content-range'] ?? 'no Content-Range'}`);
    }
    start = offset;
  } else if (status !== 200) {
    response.resume();
    throw new HttpStatusError(status, url);
  }
  // A 200 to a Range request means the server ignores ranges: its body is the whole file, from byte 0.
  const lengthHeader = response.headers['content-length'];
  const expected = lengthHeader === undefined ? null : Number(lengthHeader);
  const file = createWriteStream(part, { flags: start > 0 ? 'a' : 'w' });
  const bar = options.progressStream === null ? null : new ProgressBar({
    total: expected === null ? 0 : megabytes(expected),
    // ProgressBar prints bare counts, so the label carries the unit.
    label: start > 0 ? `${name} (MB, resuming at ${formatBytes(start)})` : `${name} (MB)`,
    unit: 'MB',
    stream: options.progressStream ?? process.stderr,
  });
  let received = 0;
  try {
    for await (const chunk of response) {
      received += (chunk as Buffer).length;
      if (!file.write(chunk)) await once(file, 'drain');
      bar?.update(megabytes(received));
    }
  } catch (e) {
    throw new DroppedError(received, errorCode(e) || (e as Error).message);
  } finally {
    // Everything received reaches the disk, so the next attempt resumes from the .part's true size.
    await new Promise<void>((resolve, reject) => file.end((error?: Error | null) => (error ? reject(error) : resolve())));
    bar?.finish();
  }
  if (expected !== null && received < expected) throw new DroppedError(received, `expected ${formatBytes(expected)}`);
  return 'complete';
}

/** GET with redirects followed (the Range header goes along to the new location). */
async function open(url: string, headers: Record<string, string>, timeoutMs: number, maxRedirects: number): Promise<IncomingMessage> {
  let current = new URL(url);
  for (let hop = 0; ; hop++) {
    const response = await get(current, headers, timeoutMs);
    const status = response.statusCode ?? 0;
    const location = response.headers.location;
    if (status < 300 || status >= 400 || !location) return response;
    response.resume();
    if (hop >= maxRedirects) throw new DownloadError(`${url}: more than ${maxRedirects} redirects`);
    current = new URL(location, current);
  }
}

function get(url: URL, headers: Record<string, string>, timeoutMs: number): Promise<IncomingMessage> {
  const client = url.protocol === 'https:' ? https : url.protocol === 'http:' ? http : null;
  if (!client) return Promise.reject(new DownloadError(`${url.href}: only http and https URLs can be fetched`));
  return new Promise((resolve, reject) => {
    const request = client.get(url, { headers }, resolve);
    // The socket timeout keeps applying while the body streams, so a stalled transfer also ends here.
    request.setTimeout(timeoutMs, () => {
      request.destroy(Object.assign(new Error(`no answer within ${timeoutMs / 1000} s`), { code: 'ETIMEDOUT' }));
    });
    request.on('error', reject);
  });
}

const megabytes = (bytes: number) => Math.round(bytes / 1e5) / 10;

export function formatBytes(bytes: number): string {
  if (bytes < 1e3) return `${bytes} B`;
  if (bytes < 1e6) return `${(bytes / 1e3).toFixed(1)} kB`;
  if (bytes < 1e9) return `${(bytes / 1e6).toFixed(1)} MB`;
  return `${(bytes / 1e9).toFixed(2)} GB`;
}

export interface FetchOptions extends DownloadOptions {
  /** Fetch even when a verified copy (or a system copy) is present. */
  force?: boolean;
  env?: NodeJS.ProcessEnv;
  /** The command that retries, named in the offline message (default `saln data download <name>`). */
  rerun?: string;
  /** The most bytes an archive may unpack to (default: defaultUnpackLimit, at least 1 GiB). */
  maxUnpackedBytes?: number;
}

export interface FetchResult {
  /** fetched: files were downloaded or verified now; present: a verified copy was already there; system: an
   * installed package provides it. */
  status: 'fetched' | 'present' | 'system';
  dir: string;
  /** Requests made (0 when nothing was fetched). */
  requests: number;
}

/** Makes a catalog data set present and verified in `<dataDir>/<entry.dir>`. */
export async function fetchDataset(entry: DatasetEntry, dataDir: string, options: FetchOptions = {}): Promise<FetchResult> {
  const log = options.log ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const dir = datasetDir(entry, dataDir);
  if (!options.force) {
    const found = locateDataset(entry, dataDir);
    if (found?.source === 'data-dir' && found.verified) return { status: 'present', dir, requests: 0 };
    if (found?.source === 'system') return { status: 'system', dir: found.dir, requests: 0 };
  }
  mkdirSync(dir, { recursive: true });
  rmSync(join(dir, MARKER_FILE), { force: true });
  const files: VerifiedMarker['files'] = [];
  let requests = 0;
  for (const [index, remote] of entry.files.entries()) {
    const dest = join(dir, remote.file);
    const urls = fileUrls(entry, remote, options.env);
    // A file already here (an earlier run, or placed by hand) is used once its checksum matches.
    if (existsSync(dest)) {
      const got = await fileDigest(dest, remote.checksum.algorithm);
      if (got === remote.checksum.digest) {
        log(`${remote.file}: already here, ${remote.checksum.algorithm} verified`);
        files.push({ file: remote.file, url: urls[0], algorithm: remote.checksum.algorithm, digest: got });
        continue;
      }
      log(`${remote.file}: ${remote.checksum.algorithm} ${got} is not the expected ${remote.checksum.digest}; fetching it again`);
      rmSync(dest);
    }
    log(`${remote.file}: fetching ${urls[0]}`);
    try {
      const result = await downloadFile(urls, dest, remote.checksum, options);
      requests += result.requests;
      files.push({ file: remote.file, url: result.url, algorithm: remote.checksum.algorithm, digest: remote.checksum.digest });
    } catch (e) {
      if (e instanceof OfflineError) {
        const rerun = options.rerun ?? `saln data download ${entry.name}`;
        throw new OfflineError(byHand(entry, dir, e, entry.files.slice(index).map((f) => f.file), rerun, options.env), e.url, e.code);
      }
      throw e;
    }
  }
  const archives = entry.files.filter((remote) => remote.extract);
  for (const remote of archives) {
    log(`${remote.file}: unpacking into ${dir}`);
    try {
      await checkArchive(join(dir, remote.file), dir, options.maxUnpackedBytes);
    } catch (e) {
      if (!(e instanceof UnsafeArchiveError)) throw new DownloadError(`cannot unpack ${join(dir, remote.file)}: ${(e as Error).message}`);
      // Not kept: the next attempt fetches it again rather than finding a "verified" copy.
      rmSync(join(dir, remote.file), { force: true });
      throw new DownloadError((e as Error).message);
    }
    try {
      // Not strict: a benign warning (an odd header in a large archive) should not waste a verified download;
      // the expected-files check below catches an archive that did not unpack.
      await tar.x({ file: join(dir, remote.file), cwd: dir, onwarn: (code, message) => log(`${remote.file}: ${code} ${message}`) });
    } catch (e) {
      throw new DownloadError(`cannot unpack ${join(dir, remote.file)}: ${(e as Error).message}`);
    }
  }
  const missing = entry.expected.filter((relative) => findFile(dir, relative) === null);
  if (missing.length) {
    throw new DownloadError(`${entry.title}: after unpacking, ${missing.map((m) => join(dir, m)).join(', ')} ${missing.length > 1 ? 'are' : 'is'} missing (a different release of the archive?)`);
  }
  const marker: VerifiedMarker = { dataset: entry.name, verifiedAt: new Date().toISOString(), files, expected: entry.expected };
  writeFileSync(join(dir, `${MARKER_FILE}.tmp`), `${JSON.stringify(marker, null, 2)}\n`);
  renameSync(join(dir, `${MARKER_FILE}.tmp`), join(dir, MARKER_FILE));
  if (!markerMatches(readMarker(dir), entry)) throw new DownloadError(`${join(dir, MARKER_FILE)}: written but unreadable`);
  // The unpacked files are what loaders read; the archives would only double the disk used.
  for (const remote of archives) rmSync(join(dir, remote.file), { force: true });
  return { status: 'fetched', dir, requests };
}

function byHand(entry: DatasetEntry, dir: string, error: OfflineError, remaining: string[], rerun: string, env?: NodeJS.ProcessEnv): string {
  const wanted = entry.files.filter((remote) => remaining.includes(remote.file))
    .map((remote) => `${remote.file} (from ${fileUrls(entry, remote, env)[0]})`);
  const verb = entry.files.some((remote) => remote.extract) ? 'verify and unpack' : 'verify';
  return `${error.message}: no network? To install ${entry.title} by hand, put ${wanted.join(', ')} in ${dir}/ and run '${rerun}' again to ${verb} ${wanted.length > 1 ? 'them' : 'it'}`;
}
