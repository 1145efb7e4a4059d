// The downloader against a local HTTP server on 127.0.0.1 (nothing else is contacted): a fixture tar.gz and a
// gz file fetched, verified, unpacked and marked; no second fetch; a dropped connection resumed with Range; a
// checksum mismatch; a server that ignores Range; redirects, mirrors, and the offline messages.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar';
import {
  CATALOG, DATASET_NAMES, MARKER_FILE, fileUrls, inspectDataset, packageRoot, readMarker, resolveDataDir, type DatasetEntry,
} from '../datasets/catalog.ts';
import { ChecksumError, DownloadError, OfflineError, downloadFile, fetchDataset, type FetchOptions } from '../datasets/download.ts';

const dirs: string[] = [];
const temp = () => { const d = mkdtempSync(join(tmpdir(), 'saln-dl-')); dirs.push(d); return d; };
const md5 = (bytes: Uint8Array) => createHash('md5').update(bytes).digest('hex');

/** Bytes that gzip cannot shrink much, so the archive is long enough to be cut midway. */
function noise(length: number, seed: number): Buffer {
  const bytes = Buffer.alloc(length);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    state ^= state << 13; state >>>= 0; state ^= state >>> 17; state ^= state << 5; state >>>= 0;
    bytes[i] = state & 0xff;
  }
  return bytes;
}

// A CIFAR-10-shaped archive: five train batches of 2 records and a test batch of 1 (1 + 3072 bytes each).
const RECORD = 1 + 3072;
const BATCHES = ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin'];
async function buildArchive(): Promise<Buffer> {
  const root = temp();
  mkdirSync(join(root, 'tiny-batches'));
  BATCHES.forEach((name, i) => writeFileSync(join(root, 'tiny-batches', name), noise(2 * RECORD, i + 1)));
  writeFileSync(join(root, 'tiny-batches', 'test_batch.bin'), noise(RECORD, 99));
  await tar.c({ gzip: true, file: join(root, 'tiny.tar.gz'), cwd: root }, ['tiny-batches']);
  return readFileSync(join(root, 'tiny.tar.gz'));
}

function idxBytes(dims: number[], data: Uint8Array): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = 0x08;
  header[3] = dims.length;
  dims.forEach((size, d) => header.writeUInt32BE(size, 4 + 4 * d));
  return Buffer.concat([header, data]);
}

interface Route {
  body?: Buffer;
  /** On the first request only: send this many body bytes, then cut the connection. */
  dropAfter?: number;
  /** Answer 200 with the whole body even to a Range request. */
  ignoreRange?: boolean;
  redirectTo?: string;
  status?: number;
  /** Accept the request and never answer. */
  silent?: boolean;
}

interface Hit { path: string; range: string | undefined }

/** Runs `body` against a server of `routes`, closing the server whatever happens. */
async function withServer(routes: Record<string, Route>, body: (server: Awaited<ReturnType<typeof serve>>) => Promise<void>): Promise<void> {
  const server = await serve(routes);
  try {
    await body(server);
  } finally {
    await server.close();
  }
}

async function serve(routes: Record<string, Route>) {
  const hits: Hit[] = [];
  const server = http.createServer((request: IncomingMessage, response: ServerResponse) => {
    const path = request.url ?? '';
    hits.push({ path, range: request.headers.range });
    const route = routes[path];
    if (!route) return void response.writeHead(404).end('not found');
    if (route.silent) return;
    if (route.redirectTo) return void response.writeHead(302, { location: route.redirectTo }).end();
    if (route.status) return void response.writeHead(route.status).end();
    const body = route.body!;
    const range = /^bytes=(\d+)-$/.exec(request.headers.range ?? '');
    if (range && !route.ignoreRange) {
      const start = Number(range[1]);
      if (start >= body.length) return void response.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
      response.writeHead(206, { 'content-length': body.length - start, 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` });
      return void response.end(body.subarray(start));
    }
    response.writeHead(200, { 'content-length': body.length });
    const first = hits.filter((hit) => hit.path === path).length === 1;
    if (route.dropAfter !== undefined && first) {
      response.write(body.subarray(0, route.dropAfter), () => request.socket.destroy());
      return;
    }
    response.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const close = () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); });
  return { base, hits, close };
}

/** A port on 127.0.0.1 that nothing listens on: connections are refused. */
async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function sink() {
  const chunks: string[] = [];
  return { chunks, stream: { isTTY: false, write: (chunk: string) => chunks.push(chunk) }, text: () => chunks.join('') };
}

const quiet = (extra: FetchOptions = {}): FetchOptions => ({ progressStream: null, log: () => {}, ...extra });

function tinyEntry(url: string, digest: string): DatasetEntry {
  return {
    name: 'tiny', title: 'Tiny', homepage: 'http://127.0.0.1/', dir: 'tiny-set',
    files: [{ file: 'tiny.tar.gz', urls: [url], checksum: { algorithm: 'md5', digest }, extract: true }],
    expected: [...BATCHES, 'test_batch.bin'].map((f) => `tiny-batches/${f}`),
    splits: {
      train: { kind: 'records', files: BATCHES.map((f) => `tiny-batches/${f}`), recordBytes: RECORD },
      test: { kind: 'records', files: ['tiny-batches/test_batch.bin'], recordBytes: RECORD },
    },
  };
}

const archive = await buildArchive();
const archiveMd5 = md5(archive);
const idxGz = gzipSync(idxBytes([3, 2, 2], noise(12, 7)));

test('a tar.gz set is fetched, verified, unpacked and marked; a second run makes no request', async () => {
  await withServer({ '/files/tiny.tar.gz': { body: archive } }, async (server) => {
    const dataDir = temp();
    const entry = tinyEntry(`${server.base}/files/tiny.tar.gz`, archiveMd5);
    const progress = sink();
    const first = await fetchDataset(entry, dataDir, { progressStream: progress.stream, log: () => {} });
    assert.is(first.status, 'fetched');
    assert.is(first.dir, join(dataDir, 'tiny-set'));
    assert.is(server.hits.length, 1);
    assert.match(progress.text(), /tiny\.tar\.gz \(MB\) .*MB\/s in \d+:\d\d/, 'the progress bar finished with a rate and a time');
    for (const name of BATCHES) assert.is(statSync(join(first.dir, 'tiny-batches', name)).size, 2 * RECORD);
    assert.not.ok(existsSync(join(first.dir, 'tiny.tar.gz')), 'the archive is removed once unpacked');
    const marker = readMarker(first.dir)!;
    assert.equal(marker.files, [{ file: 'tiny.tar.gz', url: `${server.base}/files/tiny.tar.gz`, algorithm: 'md5', digest: archiveMd5 }]);
    const status = inspectDataset(entry, dataDir);
    assert.equal([status.present, status.verified, status.splits], [true, true, { train: 10, test: 1 }]);

    const second = await fetchDataset(entry, dataDir, quiet());
    assert.is(second.status, 'present');
    assert.is(second.requests, 0);
    assert.is(server.hits.length, 1, 'a verified set is not fetched again');

    // A marker for other checksums (the catalog changed) does not count: the set is fetched again.
    const stale = { ...marker, files: [{ ...marker.files[0], digest: '0'.repeat(32) }] };
    writeFileSync(join(first.dir, MARKER_FILE), JSON.stringify(stale));
    assert.is(inspectDataset(entry, dataDir).verified, false);
    assert.is((await fetchDataset(entry, dataDir, quiet())).status, 'fetched');
    assert.is(server.hits.length, 2);
  });
});

test('a gz file is verified and kept as it is; redirects are followed; SALN_DOWNLOAD_BASE replaces the URLs', async () => {
  await withServer({
    '/moved/train-images-idx3-ubyte.gz': { redirectTo: '/files/train-images-idx3-ubyte.gz' },
    '/files/train-images-idx3-ubyte.gz': { body: idxGz },
    '/files/train-labels-idx1-ubyte.gz': { body: gzipSync(idxBytes([3], Uint8Array.of(0, 1, 2))) },
    '/mirror/idx/labels.gz': { body: idxGz },
  }, async (server) => {
    const dir = temp();
    const dest = join(dir, 'train-images-idx3-ubyte.gz');
    const result = await downloadFile([`${server.base}/moved/train-images-idx3-ubyte.gz`], dest, { algorithm: 'md5', digest: md5(idxGz) }, quiet());
    assert.equal(result, { url: `${server.base}/moved/train-images-idx3-ubyte.gz`, bytes: idxGz.length, requests: 1 });
    assert.equal(server.hits.map((h) => h.path), ['/moved/train-images-idx3-ubyte.gz', '/files/train-images-idx3-ubyte.gz']);
    assert.ok(readFileSync(dest).equals(idxGz));
    assert.not.ok(existsSync(`${dest}.part`));

    const entry: DatasetEntry = {
      name: 'idx', title: 'Idx', homepage: '', dir: 'idx',
      files: [{ file: 'labels.gz', urls: ['https://example.invalid/labels.gz'], checksum: { algorithm: 'sha256', digest: createHash('sha256').update(idxGz).digest('hex') } }],
      expected: ['labels'], splits: {},
    };
    const env = { SALN_DOWNLOAD_BASE: `${server.base}/mirror/` };
    assert.equal(fileUrls(entry, entry.files[0], env), [`${server.base}/mirror/idx/labels.gz`]);
    assert.equal(fileUrls(entry, entry.files[0], {}), ['https://example.invalid/labels.gz']);
    const fetched = await fetchDataset(entry, dir, quiet({ env }));
    assert.is(fetched.status, 'fetched');
    assert.ok(existsSync(join(dir, 'idx', 'labels.gz')), 'files that are not archives stay');
    assert.is(readMarker(join(dir, 'idx'))!.files[0].algorithm, 'sha256');
  });
});

test('a connection dropped midway is resumed with Range: bytes=N-', async () => {
  await withServer({ '/files/tiny.tar.gz': { body: archive, dropAfter: 10_000 } }, async (server) => {
    const dest = join(temp(), 'tiny.tar.gz');
    const lines: string[] = [];
    const progress = sink();
    const result = await downloadFile([`${server.base}/files/tiny.tar.gz`], dest, { algorithm: 'md5', digest: archiveMd5 }, { progressStream: progress.stream, log: (line) => lines.push(line) });
    assert.equal(server.hits.map((h) => h.range), [undefined, 'bytes=10000-']);
    assert.is(result.requests, 2);
    assert.ok(readFileSync(dest).equals(archive));
    assert.match(lines.join('\n'), /tiny\.tar\.gz: connection dropped after 10\.0 kB \(.+\); resuming/);
    assert.match(progress.text(), /tiny\.tar\.gz \(MB, resuming at 10\.0 kB\)/);
  });
});

test('with no retries left the .part is kept, and the next run resumes it', async () => {
  await withServer({ '/files/tiny.tar.gz': { body: archive, dropAfter: 12_345 } }, async (server) => {
    const dest = join(temp(), 'tiny.tar.gz');
    const checksum = { algorithm: 'md5' as const, digest: archiveMd5 };
    const url = `${server.base}/files/tiny.tar.gz`;
    try {
      await downloadFile([url], dest, checksum, quiet({ retries: 0 }));
      assert.unreachable('the first run should fail');
    } catch (e) {
      assert.instance(e, DownloadError);
      assert.not.instance(e, OfflineError);
      assert.match((e as Error).message, /^the download from http:\/\/127\.0\.0\.1:\d+\/files\/tiny\.tar\.gz dropped after 12\.3 kB .*; .*tiny\.tar\.gz\.part is kept, run again to resume$/);
    }
    assert.is(statSync(`${dest}.part`).size, 12_345);
    await downloadFile([url], dest, checksum, quiet({ retries: 0 }));
    assert.equal(server.hits.map((h) => h.range), [undefined, 'bytes=12345-']);
    assert.ok(readFileSync(dest).equals(archive));
  });
});

test('a checksum mismatch is one line naming the file, the expected and the got digest, and leaves nothing behind', async () => {
  await withServer({ '/files/tiny.tar.gz': { body: archive } }, async (server) => {
    const dataDir = temp();
    const wrong = 'f'.repeat(32);
    try {
      await fetchDataset(tinyEntry(`${server.base}/files/tiny.tar.gz`, wrong), dataDir, quiet());
      assert.unreachable('a wrong checksum must fail');
    } catch (e) {
      assert.instance(e, ChecksumError);
      const message = (e as Error).message;
      assert.not.match(message, /\n/);
      assert.is(message, `checksum mismatch for tiny.tar.gz from ${server.base}/files/tiny.tar.gz: expected md5 ${wrong}, got ${archiveMd5}; the file was removed, so a retry starts clean`);
    }
    const dir = join(dataDir, 'tiny-set');
    assert.not.ok(existsSync(join(dir, 'tiny.tar.gz')));
    assert.not.ok(existsSync(join(dir, 'tiny.tar.gz.part')));
    assert.not.ok(existsSync(join(dir, MARKER_FILE)));
    await fetchDataset(tinyEntry(`${server.base}/files/tiny.tar.gz`, archiveMd5), dataDir, quiet());
    assert.equal(server.hits.map((h) => h.range), [undefined, undefined], 'the retry starts from byte 0');
  });
});

test('a server that ignores Range answers 200, and the download starts over from byte 0', async () => {
  await withServer({ '/files/tiny.tar.gz': { body: archive, ignoreRange: true } }, async (server) => {
    const dest = join(temp(), 'tiny.tar.gz');
    writeFileSync(`${dest}.part`, Buffer.alloc(5000, 0xee));
    await downloadFile([`${server.base}/files/tiny.tar.gz`], dest, { algorithm: 'md5', digest: archiveMd5 }, quiet());
    assert.equal(server.hits.map((h) => h.range), ['bytes=5000-']);
    assert.ok(readFileSync(dest).equals(archive), 'the stale bytes were discarded, not prepended');
  });
});

test('a complete .part (416 to the resume) is verified and used; a file placed by hand needs no request', async () => {
  await withServer({ '/files/tiny.tar.gz': { body: archive } }, async (server) => {
    const dest = join(temp(), 'tiny.tar.gz');
    writeFileSync(`${dest}.part`, archive);
    await downloadFile([`${server.base}/files/tiny.tar.gz`], dest, { algorithm: 'md5', digest: archiveMd5 }, quiet());
    assert.equal(server.hits.map((h) => h.range), [`bytes=${archive.length}-`]);
    assert.ok(readFileSync(dest).equals(archive));

    const dataDir = temp();
    mkdirSync(join(dataDir, 'tiny-set'));
    writeFileSync(join(dataDir, 'tiny-set', 'tiny.tar.gz'), archive);
    const placed = await fetchDataset(tinyEntry(`${server.base}/files/tiny.tar.gz`, archiveMd5), dataDir, quiet());
    assert.is(placed.requests, 0);
    assert.is(server.hits.length, 1);
    assert.ok(inspectDataset(tinyEntry('', archiveMd5), dataDir).verified);
  });
});

test('a failing mirror falls through to the next', async () => {
  await withServer({ '/broken/tiny.tar.gz': { status: 503 }, '/files/tiny.tar.gz': { body: archive } }, async (server) => {
    const dest = join(temp(), 'tiny.tar.gz');
    const result = await downloadFile([`${server.base}/broken/tiny.tar.gz`, `${server.base}/files/tiny.tar.gz`], dest, { algorithm: 'md5', digest: archiveMd5 }, quiet());
    assert.is(result.url, `${server.base}/files/tiny.tar.gz`);
    try {
      await downloadFile([`${server.base}/broken/tiny.tar.gz`], join(temp(), 'x'), { algorithm: 'md5', digest: archiveMd5 }, quiet());
      assert.unreachable('a 503 must fail');
    } catch (e) {
      assert.not.instance(e, OfflineError);
      assert.is((e as Error).message, `HTTP 503 from ${server.base}/broken/tiny.tar.gz`);
    }
  });
});

test('offline (connection refused): one line naming the URL, the directory and the files to put there by hand', async () => {
  const port = await closedPort();
  const url = `http://127.0.0.1:${port}/files/tiny.tar.gz`;
  const dataDir = temp();
  try {
    await fetchDataset(tinyEntry(url, archiveMd5), dataDir, quiet());
    assert.unreachable('nothing listens there');
  } catch (e) {
    assert.instance(e, OfflineError);
    assert.is((e as Error).message, `cannot reach ${url} (ECONNREFUSED: connection refused): no network? To install Tiny by hand, `
      + `put tiny.tar.gz (from ${url}) in ${join(dataDir, 'tiny-set')}/ and run 'saln data download tiny' again to verify and unpack it`);
  }
});

test('a server that never answers times out as offline', async () => {
  await withServer({ '/files/tiny.tar.gz': { silent: true } }, async (server) => {
    const started = Date.now();
    try {
      await downloadFile([`${server.base}/files/tiny.tar.gz`], join(temp(), 'tiny.tar.gz'), { algorithm: 'md5', digest: archiveMd5 }, quiet({ timeoutMs: 200 }));
      assert.unreachable(`no error after ${Date.now() - started} ms`);
    } catch (e) {
      assert.instance(e, OfflineError);
      assert.match((e as Error).message, /^cannot reach http:\/\/127\.0\.0\.1:\d+\/files\/tiny\.tar\.gz \(ETIMEDOUT: timed out\)$/);
    }
  });
});

test('an archive that is not a tar, or lacks the expected files, is an error; the verified archive stays', async () => {
  const notTar = gzipSync(Buffer.from('not a tar archive'));
  const root = temp();
  mkdirSync(join(root, 'other'));
  writeFileSync(join(root, 'other', 'readme.txt'), 'another release\n');
  await tar.c({ gzip: true, file: join(root, 'other.tar.gz'), cwd: root }, ['other']);
  const otherTar = readFileSync(join(root, 'other.tar.gz'));
  const server = await serve({ '/not-tar/tiny.tar.gz': { body: notTar }, '/other/tiny.tar.gz': { body: otherTar } });
  const cases: [string, Buffer, RegExp][] = [
    ['not-tar', notTar, /^cannot unpack .*\/tiny-set\/tiny\.tar\.gz: TAR_BAD_ARCHIVE: Unrecognized archive format$/],
    ['other', otherTar, /^Tiny: after unpacking, .*\/tiny-set\/tiny-batches\/data_batch_1\.bin, .* are missing \(a different release of the archive\?\)$/],
  ];
  try {
    for (const [route, body, pattern] of cases) {
      const dataDir = temp();
      try {
        await fetchDataset(tinyEntry(`${server.base}/${route}/tiny.tar.gz`, md5(body)), dataDir, quiet());
        assert.unreachable(`${route}: nothing was unpacked`);
      } catch (e) {
        assert.instance(e, DownloadError);
        assert.match((e as Error).message, pattern);
      }
      assert.ok(existsSync(join(dataDir, 'tiny-set', 'tiny.tar.gz')), 'kept, so a retry does not fetch it again');
      assert.not.ok(existsSync(join(dataDir, 'tiny-set', MARKER_FILE)));
    }
  } finally {
    await server.close();
  }
});

test('the catalog: the five data sets, MD5s from torchvision and the CIFAR page, and the data directory precedence', () => {
  assert.equal(DATASET_NAMES, ['cifar10', 'cifar100', 'oxford-pets', 'fashion-mnist', 'mnist']);
  const digests = Object.fromEntries(CATALOG.flatMap((entry) => entry.files.map((f) => [`${entry.name}/${f.file}`, f.checksum.digest])));
  assert.is(digests['cifar10/cifar-10-binary.tar.gz'], 'c32a1d4ab5d03f1284b67883e8d87530');
  assert.is(digests['cifar100/cifar-100-binary.tar.gz'], '03b5dce01913d631647c71ecec9e9cb8');
  assert.is(digests['oxford-pets/images.tar.gz'], '5c4f3ee8e5d25df40f4fd59a7f44e54c');
  assert.is(digests['oxford-pets/annotations.tar.gz'], '95a8c909bbe2e81eed6a22bccdf3f68f');
  assert.is(digests['mnist/train-images-idx3-ubyte.gz'], 'f68b3c2dcbeaaa9fbdd348bbdeb94873');
  assert.is(digests['fashion-mnist/t10k-labels-idx1-ubyte.gz'], 'bb300cfdad3c16e7a12a480ee83cd310');
  for (const entry of CATALOG) {
    for (const remote of entry.files) {
      assert.match(remote.checksum.digest, /^[0-9a-f]{32}$/, `${entry.name}/${remote.file}`);
      for (const url of remote.urls) assert.ok(url.endsWith(`/${remote.file}`) && /^https?:\/\//.test(url), url);
    }
  }
  assert.is(resolveDataDir(undefined, {}), join(packageRoot(), 'datasets', 'data'));
  assert.ok(existsSync(join(packageRoot(), 'package.json')));
  assert.is(resolveDataDir(undefined, { SALN_DATA: '/srv/data' }), '/srv/data');
  assert.is(resolveDataDir('/flag/dir', { SALN_DATA: '/srv/data' }), '/flag/dir');
  assert.is(resolveDataDir('relative', {}), join(process.cwd(), 'relative'));
});

test.after(() => { for (const dir of dirs) rmSync(dir, { recursive: true, force: true }); });

test.run();
