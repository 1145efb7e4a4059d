// Hostile archives served by a local HTTP server with a matching checksum, so that only the unpacking can stop
// them: entries with '..', absolute paths, symbolic and hard links pointing outside, a device file, and
// decompression bombs (one inflated past a small bound, one whose header alone declares 4 GiB). Each download
// must fail naming the entry, and nothing may appear outside the data directory (nor, for these, inside it).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Header } from 'tar';
import type { DatasetEntry } from '../datasets/catalog.ts';
import { DownloadError, fetchDataset } from '../datasets/download.ts';

const dirs: string[] = [];
const md5 = (bytes: Uint8Array) => createHash('md5').update(bytes).digest('hex');

interface TarEntry { path: string; type?: string; linkpath?: string; body?: Buffer; declaredSize?: number }

/** A tar stream written header by header, so that it can hold what no well-behaved tar would write. */
function tarGz(entries: TarEntry[], { truncate = false } = {}): Buffer {
  const blocks: Buffer[] = [];
  for (const { path, type = 'File', linkpath, body = Buffer.alloc(0), declaredSize } of entries) {
    const header = Buffer.alloc(512);
    new Header({ path, type: type as never, linkpath, size: declaredSize ?? body.length, mode: type === 'Directory' ? 0o755 : 0o644, mtime: new Date(0), uid: 0, gid: 0 }).encode(header, 0);
    blocks.push(header, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  if (!truncate) blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks));
}

async function serve(body: Buffer) {
  const server = http.createServer((_, response) => { response.writeHead(200, { 'content-length': body.length }); response.end(body); });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/set.tar.gz`, close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }) };
}

/** A sandbox: root/data is the data directory, root/secret a file an attack would like to reach. */
function sandbox() {
  const root = mkdtempSync(join(tmpdir(), 'saln-hostile-'));
  dirs.push(root);
  mkdirSync(join(root, 'data'));
  writeFileSync(join(root, 'secret'), 'untouched');
  return root;
}

function entryFor(url: string, archive: Buffer, expected: string[]): DatasetEntry {
  return {
    name: 'hostile', title: 'Hostile', homepage: '', dir: 'set',
    files: [{ file: 'set.tar.gz', urls: [url], checksum: { algorithm: 'md5', digest: md5(archive) }, extract: true }],
    expected, splits: {},
  };
}

async function fetchArchive(root: string, archive: Buffer, options: { maxUnpackedBytes?: number } = {}) {
  const server = await serve(archive);
  try {
    return await fetchDataset(entryFor(server.url, archive, ['set/a.txt']), join(root, 'data'), { progressStream: null, log: () => {}, ...options });
  } finally {
    await server.close();
  }
}

/** Every path under `dir`, relative, sorted. */
function walk(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => [prefix + e.name, ...(e.isDirectory() ? walk(join(dir, e.name), `${prefix}${e.name}/`) : [])]).sort();
}

test('a well-formed archive built the same way unpacks (the builder is sound, so the refusals below are the checks)', async () => {
  const root = sandbox();
  const archive = tarGz([{ path: 'set/', type: 'Directory' }, { path: 'set/a.txt', body: Buffer.from('hello') }, { path: 'set/inner-link', type: 'SymbolicLink', linkpath: 'a.txt' }, { path: 'set/hard', type: 'Link', linkpath: 'set/a.txt' }]);
  const result = await fetchArchive(root, archive);
  assert.is(result.status, 'fetched');
  assert.is(readFileSync(join(root, 'data', 'set', 'set', 'a.txt'), 'utf8'), 'hello');
  assert.is(readFileSync(join(root, 'data', 'set', 'set', 'hard'), 'utf8'), 'hello');
});

const attacks: [string, (root: string) => TarEntry[], RegExp][] = [
  ["a '..' path", () => [{ path: 'set/a.txt', body: Buffer.from('ok') }, { path: '../../evil.txt', body: Buffer.from('pwned') }], /entry '\.\.\/\.\.\/evil\.txt' climbs out of the data directory with '\.\.'/],
  ['an absolute path', (root) => [{ path: `${root}/abs-evil.txt`, body: Buffer.from('pwned') }], /entry '\/.*abs-evil\.txt' has an absolute path/],
  ['a symbolic link pointing outside, then a file through it', (root) => [{ path: 'escape', type: 'SymbolicLink', linkpath: root }, { path: 'escape/through-link.txt', body: Buffer.from('pwned') }], /entry 'escape' is a symbolic link to '\/.*', outside /],
  ['a relative symbolic link climbing out', () => [{ path: 'set/up', type: 'SymbolicLink', linkpath: '../../../secret' }], /entry 'set\/up' is a symbolic link to '\.\.\/\.\.\/\.\.\/secret', outside /],
  ['a hard link to a file outside', () => [{ path: 'set/hard', type: 'Link', linkpath: '../../secret' }], /entry 'set\/hard' is a hard link to '\.\.\/\.\.\/secret', outside /],
  ['a hard link by absolute path', (root) => [{ path: 'set/hard', type: 'Link', linkpath: join(root, 'secret') }], /entry 'set\/hard' is a hard link to '\/.*secret', outside /],
  ['a device file', () => [{ path: 'set/null', type: 'CharacterDevice' }], /entry 'set\/null' is a CharacterDevice/],
];

for (const [name, build, message] of attacks) {
  test(`refused, naming the entry: ${name}`, async () => {
    const root = sandbox();
    const error = await fetchArchive(root, tarGz(build(root))).then(() => null, (e) => e);
    assert.instance(error, DownloadError);
    assert.match(error.message, message);
    assert.match(error.message, /nothing was written/);
    assert.not.match(error.message, /\n/);
    assert.equal(walk(root), ['data', 'data/set', 'secret'], 'nothing outside the data directory, nothing unpacked inside it');
    assert.is(readFileSync(join(root, 'secret'), 'utf8'), 'untouched');
    assert.not.ok(existsSync(join(root, 'data', 'set', 'set.tar.gz')), 'the unsafe archive is not kept as if verified');
  });
}

test('a decompression bomb past the bound is refused at the entry that crosses it', async () => {
  const root = sandbox();
  const zeros = Buffer.alloc(4 * 2 ** 20);
  const archive = tarGz([{ path: 'set/a.txt', body: Buffer.from('ok') }, { path: 'set/zeros-1', body: zeros }, { path: 'set/zeros-2', body: zeros }]);
  assert.ok(archive.length < 40_000, `${archive.length} bytes of archive for 8 MiB of zeros`);
  const error = await fetchArchive(root, archive, { maxUnpackedBytes: 6 * 2 ** 20 }).then(() => null, (e) => e);
  assert.instance(error, DownloadError);
  assert.match(error.message, /entry 'set\/zeros-2' takes the unpacked size past 6291456 bytes \(a decompression bomb: the archive is \d+ bytes\)/);
  assert.equal(walk(root), ['data', 'data/set', 'secret']);
});

test('a header declaring 4 GiB is refused by the default bound before its contents are inflated', async () => {
  const root = sandbox();
  const archive = tarGz([{ path: 'set/huge.bin', body: Buffer.alloc(512), declaredSize: 4 * 2 ** 30 }], { truncate: true });
  const started = performance.now();
  const error = await fetchArchive(root, archive).then(() => null, (e) => e);
  assert.instance(error, DownloadError);
  assert.match(error.message, /entry 'set\/huge\.bin' takes the unpacked size past 1073741824 bytes/);
  assert.ok(performance.now() - started < 5000);
  assert.equal(walk(root), ['data', 'data/set', 'secret']);
});

test.after(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });
test.run();
