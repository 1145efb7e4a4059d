// `saln data` through its run(): help and usage errors, `list` on a temporary data directory holding tiny
// fixtures (and the Debian Fashion-MNIST of this machine), and `download` against a local server on 127.0.0.1
// or a closed port there. Nothing else is contacted.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar';
import { run, type DataCommandContext } from '../src/cli/data.ts';
import { CATALOG, MARKER_FILE, type DatasetEntry } from '../datasets/catalog.ts';
import { FASHION_MNIST_DIR } from '../datasets/fashion-mnist.ts';

const dirs: string[] = [];
const temp = () => { const d = mkdtempSync(join(tmpdir(), 'saln-data-')); dirs.push(d); return d; };

async function saln(argv: string[], context: Partial<DataCommandContext> = {}) {
  const out: string[] = [], err: string[] = [];
  const status = await run(argv, {
    stdout: { write: (chunk: string) => out.push(chunk) },
    stderr: { isTTY: false, write: (chunk: string) => err.push(chunk) },
    env: {},
    ...context,
  });
  return { status, stdout: out.join(''), stderr: err.join('') };
}

/** The error run() rejects with: main.ts prints its message as one line, exit 2 for a UsageError and 1 otherwise. */
async function failure(argv: string[], context: Partial<DataCommandContext> = {}): Promise<Error> {
  try {
    await saln(argv, context);
  } catch (e) {
    assert.not.match((e as Error).message, /\n/, 'one line');
    return e as Error;
  }
  throw new Error(`saln data ${argv.join(' ')} did not fail`);
}

function idxGz(dims: number[]): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = 0x08;
  header[3] = dims.length;
  dims.forEach((size, d) => header.writeUInt32BE(size, 4 + 4 * d));
  return gzipSync(Buffer.concat([header, Buffer.alloc(dims.reduce((a, b) => a * b, 1))]));
}

/** MNIST with 3 train / 2 test samples (unverified), CIFAR-10 with 10 / 1 and its marker, Pets lists, a CIFAR-100 .part. */
function fixtureDataDir(): string {
  const data = temp();
  const mnist = join(data, 'mnist');
  mkdirSync(mnist);
  writeFileSync(join(mnist, 'train-images-idx3-ubyte.gz'), idxGz([3, 28, 28]));
  writeFileSync(join(mnist, 'train-labels-idx1-ubyte.gz'), idxGz([3]));
  writeFileSync(join(mnist, 't10k-images-idx3-ubyte.gz'), idxGz([2, 28, 28]));
  writeFileSync(join(mnist, 't10k-labels-idx1-ubyte.gz'), idxGz([2]));

  const cifar = join(data, 'cifar10', 'cifar-10-batches-bin');
  mkdirSync(cifar, { recursive: true });
  for (let i = 1; i <= 5; i++) writeFileSync(join(cifar, `data_batch_${i}.bin`), Buffer.alloc(2 * 3073));
  writeFileSync(join(cifar, 'test_batch.bin'), Buffer.alloc(3073));
  writeFileSync(join(cifar, 'batches.meta.txt'), 'airplane\n');
  const cifarEntry = CATALOG.find((e) => e.name === 'cifar10')!;
  writeFileSync(join(data, 'cifar10', MARKER_FILE), JSON.stringify({
    dataset: 'cifar10', verifiedAt: new Date(0).toISOString(), expected: cifarEntry.expected,
    files: cifarEntry.files.map((f) => ({ file: f.file, url: f.urls[0], ...f.checksum })),
  }));

  const pets = join(data, 'oxford-pets');
  mkdirSync(join(pets, 'images'), { recursive: true });
  mkdirSync(join(pets, 'annotations'));
  writeFileSync(join(pets, 'annotations', 'list.txt'), '#Image CLASS-ID SPECIES BREED ID\nAbyssinian_1 1 1 1\n');
  writeFileSync(join(pets, 'annotations', 'trainval.txt'), 'Abyssinian_100 1 1 1\nAbyssinian_101 1 1 1\nbeagle_1 2 2 1\n\n');
  writeFileSync(join(pets, 'annotations', 'test.txt'), 'Abyssinian_1 1 1 1\n');

  mkdirSync(join(data, 'cifar100'));
  writeFileSync(join(data, 'cifar100', 'cifar-100-binary.tar.gz.part'), 'partial');
  return data;
}

test('--help prints the usage; no action, an unknown action or data set, or a stray flag is a usage error', async () => {
  const help = await saln(['--help']);
  assert.is(help.status, 0);
  for (const text of ['saln data download NAME...', 'saln data list [--json]', '--dir DIR, --data-dir DIR', '--force', 'SALN_DATA', 'SALN_DOWNLOAD_BASE', 'cifar10, cifar100, oxford-pets, fashion-mnist, mnist']) {
    assert.ok(help.stdout.includes(text), text);
  }
  const cases: [string[], RegExp][] = [
    [[], /^data: name an action, download or list; run 'saln data --help'$/],
    [['fetch'], /^data: unknown action 'fetch' \(expected download or list\); run 'saln data --help'$/],
    [['download', 'imagenet'], /^data download: unknown data set 'imagenet'; available: cifar10, cifar100, oxford-pets, fashion-mnist, mnist$/],
    [['download'], /^data download: name a data set/],
    [['list', 'mnist'], /^data list: takes no data set names/],
    [['list', '--jsn'], /^data: Unknown option '--jsn'.*; run 'saln data --help'$/],
  ];
  for (const [argv, pattern] of cases) {
    const error = await failure(argv);
    assert.is(error.name, 'UsageError', argv.join(' '));
    assert.match(error.message, pattern);
  }
});

test('list: presence, location and samples per split read from headers, sizes and list files', async () => {
  const data = fixtureDataDir();
  const { status, stdout } = await saln(['list', '--dir', data]);
  assert.is(status, 0);
  assert.ok(stdout.startsWith(`data directory: ${data}\n`));
  const row = (name: string) => stdout.split('\n').find((line) => line.startsWith(`${name} `)) ?? '';
  assert.match(row('mnist'), new RegExp(`^mnist +present +train 3 / test 2 +${join(data, 'mnist')}$`));
  assert.match(row('cifar10'), new RegExp(`^cifar10 +verified +train 10 / test 1 +${join(data, 'cifar10')}$`));
  assert.match(row('oxford-pets'), /^oxford-pets +present +trainval 3 \/ test 1 /);
  assert.match(row('cifar100'), new RegExp(`^cifar100 +incomplete +- +${join(data, 'cifar100')}$`));
  if (existsSync(FASHION_MNIST_DIR)) {
    // This machine's Debian package (npm run setup): the full set.
    assert.match(row('fashion-mnist'), /^fashion-mnist +present +train 60,000 \/ test 10,000 +\/usr\/share\/datasets\/fashion-mnist \(Debian/);
  }

  const json = await saln(['list', '--json'], { env: { SALN_DATA: data } });
  const report = JSON.parse(json.stdout);
  assert.is(report.dataDir, data, 'SALN_DATA sets the data directory');
  const byName = Object.fromEntries(report.datasets.map((d: { name: string }) => [d.name, d]));
  assert.equal(byName.mnist.splits, { train: 3, test: 2 });
  assert.equal([byName.mnist.present, byName.mnist.verified, byName.mnist.source], [true, false, 'data-dir']);
  assert.equal([byName.cifar10.verified, byName.cifar10.splits], [true, { train: 10, test: 1 }]);
  assert.equal([byName.cifar100.present, byName.cifar100.incomplete, byName.cifar100.splits], [false, true, null]);
  if (existsSync(FASHION_MNIST_DIR)) assert.equal([byName['fashion-mnist'].location, byName['fashion-mnist'].splits], [FASHION_MNIST_DIR, { train: 60000, test: 10000 }]);

  // A damaged file is a warning on its row, not a crash.
  writeFileSync(join(data, 'mnist', 't10k-labels-idx1-ubyte.gz'), idxGz([5]));
  const damaged = await saln(['list', '--dir', data]);
  assert.match(damaged.stdout, /warning: mnist: test: t10k-images-idx3-ubyte has 2 images but t10k-labels-idx1-ubyte has 5 labels/);
});

async function serveFile(path: string, body: Buffer) {
  let hits = 0;
  const server = http.createServer((request, response) => {
    hits++;
    if (request.url !== path) return void response.writeHead(404).end();
    response.writeHead(200, { 'content-length': body.length }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { base, hits: () => hits, close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }) };
}

test('download: fetches, verifies and unpacks from a local server, then reports the set as present', async () => {
  const root = temp();
  mkdirSync(join(root, 'tiny'));
  writeFileSync(join(root, 'tiny', 'list.txt'), 'a\nb\n');
  await tar.c({ gzip: true, file: join(root, 'tiny.tar.gz'), cwd: root }, ['tiny']);
  const archive = readFileSync(join(root, 'tiny.tar.gz'));
  const server = await serveFile('/tiny.tar.gz', archive);
  try {
    const entry: DatasetEntry = {
      name: 'tiny', title: 'Tiny', homepage: '', dir: 'tiny-set',
      files: [{ file: 'tiny.tar.gz', urls: [`${server.base}/tiny.tar.gz`], checksum: { algorithm: 'md5', digest: createHash('md5').update(archive).digest('hex') }, extract: true }],
      expected: ['tiny/list.txt'], splits: { all: { kind: 'lines', file: 'tiny/list.txt' } },
    };
    const data = temp();
    const first = await saln(['download', 'tiny', '--data-dir', data], { catalog: [entry] });
    assert.is(first.status, 0);
    assert.is(first.stdout, `Tiny: verified and ready in ${join(data, 'tiny-set')}\n`);
    assert.match(first.stderr, /tiny\.tar\.gz: fetching http:\/\/127\.0\.0\.1:\d+\/tiny\.tar\.gz\n/);
    assert.match(first.stderr, /tiny\.tar\.gz: unpacking into /);
    const second = await saln(['download', 'tiny', '--dir', data], { catalog: [entry] });
    assert.match(second.stdout, /^Tiny is already present and verified in .*; nothing to fetch \(--force fetches it again\)\n$/);
    assert.is(server.hits(), 1);
    await saln(['download', 'tiny', '--dir', data, '--force'], { catalog: [entry] });
    assert.is(server.hits(), 2, '--force fetches again');
    const listed = await saln(['list', '--dir', data], { catalog: [entry] });
    assert.match(listed.stdout, /\ntiny +verified +all 2 +/);
  } finally {
    await server.close();
  }
});

test('download offline (SALN_DOWNLOAD_BASE at a closed port): the real catalog names every file to put in place by hand', async () => {
  const probe = http.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const data = temp();
  const error = await failure(['download', 'mnist', '--dir', data], { env: { SALN_DOWNLOAD_BASE: `http://127.0.0.1:${port}` }, download: { retries: 0 } });
  assert.is(error.name, 'OfflineError', 'not a usage error, so main.ts exits 1');
  const url = (file: string) => `http://127.0.0.1:${port}/mnist/${file}`;
  const files = ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'];
  assert.is(error.message, `cannot reach ${url(files[0])} (ECONNREFUSED: connection refused): no network? To install MNIST by hand, put `
    + `${files.map((f) => `${f} (from ${url(f)})`).join(', ')} in ${join(data, 'mnist')}/ and run 'saln data download mnist --dir ${data}' again to verify them`);
});

test('download fashion-mnist is satisfied by the Debian package when it is installed', async () => {
  if (!existsSync(FASHION_MNIST_DIR)) return;
  const data = temp();
  // SALN_DOWNLOAD_BASE points nowhere: a request would fail the test.
  const r = await saln(['download', 'fashion-mnist', '--dir', data], { env: { SALN_DOWNLOAD_BASE: 'http://127.0.0.1:9' } });
  assert.is(r.stdout, `Fashion-MNIST is already installed in ${FASHION_MNIST_DIR}; nothing to fetch (--force fetches a copy into the data directory)\n`);
});

test.after(() => { for (const dir of dirs) rmSync(dir, { recursive: true, force: true }); });

test.run();
