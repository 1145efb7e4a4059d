// The data sets `saln data` knows: where each comes from (the sources and checksums torchvision uses), what
// lies on disk once it is fetched, and how to tell whether it is present and how many samples each split has
// without loading it. Loaders ask `locateDataset` where a set is.
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { constants, gunzipSync } from 'node:zlib';
import { FASHION_MNIST_DIR } from './fashion-mnist.ts';

export type ChecksumAlgorithm = 'md5' | 'sha256';

export interface Checksum {
  algorithm: ChecksumAlgorithm;
  /** Lower-case hex. */
  digest: string;
}

export interface RemoteFile {
  /** The name it is saved under in the data set's directory. */
  file: string;
  /** Mirrors, tried in order. */
  urls: string[];
  checksum: Checksum;
  /** A tar.gz that is unpacked into the data set's directory (and deleted once unpacked and verified). */
  extract?: boolean;
}

/** How a split's sample count is read off the files without loading them. */
export type SplitCounter =
  /** The first dimension in an IDX header (images), checked against the labels file's. */
  | { kind: 'idx'; images: string; labels: string }
  /** Fixed-size records: the files' total size / recordBytes. */
  | { kind: 'records'; files: string[]; recordBytes: number }
  /** Lines of a list file, skipping blank lines and `#` comments. */
  | { kind: 'lines'; file: string };

export interface DatasetEntry {
  /** What the user types: `saln data download cifar10`. */
  name: string;
  title: string;
  homepage: string;
  /** Its directory under the data directory. */
  dir: string;
  files: RemoteFile[];
  /** Paths (relative to its directory) that exist once it is fetched; an IDX file may also be `<path>.gz`. */
  expected: string[];
  splits: Record<string, SplitCounter>;
  /** Other places where an installed copy counts as present (a distribution's package). */
  systemDirs?: { dir: string; note: string }[];
}

export const MARKER_FILE = '.saln-verified.json';

/** What download.ts writes once every file has been verified and unpacked. */
export interface VerifiedMarker {
  dataset: string;
  verifiedAt: string;
  files: { file: string; url: string; algorithm: ChecksumAlgorithm; digest: string }[];
  expected: string[];
}

// The IDX data sets: torchvision/datasets/mnist.py (MNIST.mirrors / .resources and FashionMNIST.mirrors /
// .resources). MNIST's S3 mirror comes first because yann.lecun.com has answered with errors or login pages
// for some time; both serve the same bytes (the MD5 is checked either way, and a mismatch tries the next).
const MNIST_MIRRORS = ['https://ossci-datasets.s3.amazonaws.com/mnist/', 'http://yann.lecun.com/exdb/mnist/'];
const FASHION_MNIST_MIRRORS = ['http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/'];
const IDX_FILES = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'];
const IDX_SPLITS: Record<string, SplitCounter> = {
  train: { kind: 'idx', images: 'train-images-idx3-ubyte', labels: 'train-labels-idx1-ubyte' },
  test: { kind: 'idx', images: 't10k-images-idx3-ubyte', labels: 't10k-labels-idx1-ubyte' },
};

function idxFiles(mirrors: string[], md5s: string[]): RemoteFile[] {
  return IDX_FILES.map((name, i) => ({
    file: `${name}.gz`,
    urls: mirrors.map((mirror) => `${mirror}${name}.gz`),
    checksum: { algorithm: 'md5', digest: md5s[i] },
  }));
}

const CIFAR10_DIR = 'cifar-10-batches-bin';
const CIFAR100_DIR = 'cifar-100-binary';

export const CATALOG: readonly DatasetEntry[] = [
  {
    // The binary version (fixed 1 + 3072-byte records, no pickle) from the authors' page
    // https://www.cs.toronto.edu/~kriz/cifar.html, which lists this MD5. torchvision's cifar.py fetches the
    // Python-pickle version from the same place instead.
    name: 'cifar10',
    title: 'CIFAR-10',
    homepage: 'https://www.cs.toronto.edu/~kriz/cifar.html',
    dir: 'cifar10',
    files: [{
      file: 'cifar-10-binary.tar.gz',
      urls: ['https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz'],
      checksum: { algorithm: 'md5', digest: 'c32a1d4ab5d03f1284b67883e8d87530' },
      extract: true,
    }],
    expected: [...[1, 2, 3, 4, 5].map((i) => `${CIFAR10_DIR}/data_batch_${i}.bin`), `${CIFAR10_DIR}/test_batch.bin`, `${CIFAR10_DIR}/batches.meta.txt`],
    splits: {
      train: { kind: 'records', files: [1, 2, 3, 4, 5].map((i) => `${CIFAR10_DIR}/data_batch_${i}.bin`), recordBytes: 1 + 3072 },
      test: { kind: 'records', files: [`${CIFAR10_DIR}/test_batch.bin`], recordBytes: 1 + 3072 },
    },
  },
  {
    // Same page; CIFAR-100 records carry a coarse and a fine label byte.
    name: 'cifar100',
    title: 'CIFAR-100',
    homepage: 'https://www.cs.toronto.edu/~kriz/cifar.html',
    dir: 'cifar100',
    files: [{
      file: 'cifar-100-binary.tar.gz',
      urls: ['https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz'],
      checksum: { algorithm: 'md5', digest: '03b5dce01913d631647c71ecec9e9cb8' },
      extract: true,
    }],
    expected: ['train.bin', 'test.bin', 'fine_label_names.txt', 'coarse_label_names.txt'].map((f) => `${CIFAR100_DIR}/${f}`),
    splits: {
      train: { kind: 'records', files: [`${CIFAR100_DIR}/train.bin`], recordBytes: 2 + 3072 },
      test: { kind: 'records', files: [`${CIFAR100_DIR}/test.bin`], recordBytes: 2 + 3072 },
    },
  },
  {
    // torchvision/datasets/oxford_iiit_pet.py (_RESOURCES): the www.robots.ox.ac.uk URLs and MD5s. That host
    // redirects to thor.robots.ox.ac.uk/~vgg/data/pets/<file> (no /data/), which is the fallback mirror.
    name: 'oxford-pets',
    title: 'Oxford-IIIT Pet',
    homepage: 'https://www.robots.ox.ac.uk/~vgg/data/pets/',
    dir: 'oxford-pets',
    files: [
      {
        file: 'images.tar.gz',
        urls: ['https://www.robots.ox.ac.uk/~vgg/data/pets/data/images.tar.gz', 'https://thor.robots.ox.ac.uk/~vgg/data/pets/images.tar.gz'],
        checksum: { algorithm: 'md5', digest: '5c4f3ee8e5d25df40f4fd59a7f44e54c' },
        extract: true,
      },
      {
        file: 'annotations.tar.gz',
        urls: ['https://www.robots.ox.ac.uk/~vgg/data/pets/data/annotations.tar.gz', 'https://thor.robots.ox.ac.uk/~vgg/data/pets/annotations.tar.gz'],
        checksum: { algorithm: 'md5', digest: '95a8c909bbe2e81eed6a22bccdf3f68f' },
        extract: true,
      },
    ],
    expected: ['images', 'annotations/list.txt', 'annotations/trainval.txt', 'annotations/test.txt'],
    splits: {
      trainval: { kind: 'lines', file: 'annotations/trainval.txt' },
      test: { kind: 'lines', file: 'annotations/test.txt' },
    },
  },
  {
    name: 'fashion-mnist',
    title: 'Fashion-MNIST',
    homepage: 'https://github.com/zalandoresearch/fashion-mnist',
    dir: 'fashion-mnist',
    files: idxFiles(FASHION_MNIST_MIRRORS, ['8d4fb7e6c68d591d4c3dfef9ec88bf0d', '25c81989df183df01b3e8a0aad5dffbe', 'bef4ecab320f06d8554ea6380940ec79', 'bb300cfdad3c16e7a12a480ee83cd310']),
    expected: IDX_FILES,
    splits: IDX_SPLITS,
    // Debian recompressed its copy, so its .gz files do not match the upstream MD5s; it counts as present
    // (unverified) when its headers are intact.
    systemDirs: [{ dir: FASHION_MNIST_DIR, note: "Debian's dataset-fashion-mnist, installed by 'npm run setup'" }],
  },
  {
    name: 'mnist',
    title: 'MNIST',
    homepage: 'http://yann.lecun.com/exdb/mnist/',
    dir: 'mnist',
    files: idxFiles(MNIST_MIRRORS, ['f68b3c2dcbeaaa9fbdd348bbdeb94873', 'd53e105ee54ea40749a09fcbcd1e9432', '9fb629c4189551a2d022fa330f9573f3', 'ec29112dd5afa0611ce80d1b7f02629c']),
    expected: IDX_FILES,
    splits: IDX_SPLITS,
  },
];

export const DATASET_NAMES = CATALOG.map((entry) => entry.name);

export function findDataset(name: string, catalog: readonly DatasetEntry[] = CATALOG): DatasetEntry | undefined {
  return catalog.find((entry) => entry.name === name);
}

/**
 * With SALN_DOWNLOAD_BASE set (a local mirror, or a test server), every file is fetched from
 * `<base>/<dataset>/<file>` instead of the official URLs.
 */
export function fileUrls(entry: DatasetEntry, remote: RemoteFile, env: NodeJS.ProcessEnv = process.env): string[] {
  const base = env.SALN_DOWNLOAD_BASE;
  return base ? [`${base.replace(/\/+$/, '')}/${entry.name}/${remote.file}`] : remote.urls;
}

/** The directory holding package.json, found from this file so that it works from src and from dist alike. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
  return dir;
}

/** --data-dir/--dir, else SALN_DATA, else datasets/data in the package (not the working directory). */
export function resolveDataDir(flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  const chosen = flag ?? env.SALN_DATA;
  return chosen ? resolve(chosen) : join(packageRoot(), 'datasets', 'data');
}

export function datasetDir(entry: DatasetEntry, dataDir: string): string {
  return join(dataDir, entry.dir);
}

/** A path inside a data set's directory, accepting the gzipped form that IDX files are shipped in. */
export function findFile(dir: string, relative: string): string | null {
  for (const candidate of [join(dir, relative), join(dir, `${relative}.gz`)]) if (existsSync(candidate)) return candidate;
  return null;
}

export function readMarker(dir: string): VerifiedMarker | null {
  try {
    return JSON.parse(readFileSync(join(dir, MARKER_FILE), 'utf8')) as VerifiedMarker;
  } catch {
    return null;
  }
}

/** The marker vouches for exactly the files (and checksums) the catalog lists now. */
export function markerMatches(marker: VerifiedMarker | null, entry: DatasetEntry): boolean {
  if (!marker || marker.dataset !== entry.name || !Array.isArray(marker.files)) return false;
  return entry.files.every((remote) => marker.files.some((f) =>
    f.file === remote.file && f.algorithm === remote.checksum.algorithm && f.digest === remote.checksum.digest));
}

const allExpected = (entry: DatasetEntry, dir: string) => entry.expected.every((relative) => findFile(dir, relative) !== null);

export interface DatasetLocation {
  dir: string;
  source: 'data-dir' | 'system';
  /** The data directory copy carries a marker matching the catalog's checksums. */
  verified: boolean;
  note?: string;
}

/** Where a complete copy is: the data directory first (what the user fetched), then the system locations. */
export function locateDataset(entry: DatasetEntry, dataDir: string): DatasetLocation | null {
  const dir = datasetDir(entry, dataDir);
  if (allExpected(entry, dir)) return { dir, source: 'data-dir', verified: markerMatches(readMarker(dir), entry) };
  for (const system of entry.systemDirs ?? []) {
    if (allExpected(entry, system.dir)) return { dir: system.dir, source: 'system', verified: false, note: system.note };
  }
  return null;
}

export interface DatasetStatus {
  name: string;
  title: string;
  present: boolean;
  verified: boolean;
  /** Where it is, or where `saln data download` would put it. */
  location: string;
  source: 'data-dir' | 'system' | null;
  note: string | null;
  /** Something was started but not finished (a .part, an archive not yet unpacked, some files). */
  incomplete: boolean;
  splits: Record<string, number> | null;
  problems: string[];
}

export function inspectDataset(entry: DatasetEntry, dataDir: string): DatasetStatus {
  const target = datasetDir(entry, dataDir);
  const found = locateDataset(entry, dataDir);
  const base = { name: entry.name, title: entry.title };
  if (!found) {
    const started = entry.files.some((f) => existsSync(join(target, f.file)) || existsSync(join(target, `${f.file}.part`)))
      || entry.expected.some((relative) => findFile(target, relative) !== null);
    return { ...base, present: false, verified: false, location: target, source: null, note: null, incomplete: started, splits: null, problems: [] };
  }
  const problems: string[] = [];
  const splits: Record<string, number> = {};
  for (const [split, counter] of Object.entries(entry.splits)) {
    try {
      splits[split] = countSamples(found.dir, counter);
    } catch (e) {
      problems.push(`${split}: ${(e as Error).message}`);
    }
  }
  return {
    ...base, present: true, verified: found.verified, location: found.dir, source: found.source, note: found.note ?? null,
    incomplete: false, splits, problems,
  };
}

export function countSamples(dir: string, counter: SplitCounter): number {
  switch (counter.kind) {
    case 'idx': {
      const images = idxLength(requireFile(dir, counter.images));
      const labels = idxLength(requireFile(dir, counter.labels));
      if (images !== labels) throw new Error(`${counter.images} has ${images} images but ${counter.labels} has ${labels} labels`);
      return images;
    }
    case 'records': {
      let total = 0;
      for (const file of counter.files) {
        const bytes = statSync(requireFile(dir, file)).size;
        if (bytes % counter.recordBytes !== 0) throw new Error(`${file}: ${bytes} bytes is not a whole number of ${counter.recordBytes}-byte records`);
        total += bytes / counter.recordBytes;
      }
      return total;
    }
    case 'lines':
      return readFileSync(requireFile(dir, counter.file), 'utf8').split('\n').filter((line) => line.trim() && !line.startsWith('#')).length;
  }
}

function requireFile(dir: string, relative: string): string {
  const path = findFile(dir, relative);
  if (!path) throw new Error(`missing ${join(dir, relative)}`);
  return path;
}

/**
 * The first dimension of an IDX file, from its 8-byte prefix: for a .gz only the first block is inflated
 * (a sync flush returns what the partial stream decodes to instead of failing on the missing end).
 */
export function idxLength(path: string): number {
  const fd = openSync(path, 'r');
  let head: Buffer;
  try {
    const chunk = Buffer.alloc(64 * 1024);
    head = chunk.subarray(0, readSync(fd, chunk, 0, chunk.length, 0));
  } finally {
    closeSync(fd);
  }
  if (head[0] === 0x1f && head[1] === 0x8b) head = gunzipSync(head, { finishFlush: constants.Z_SYNC_FLUSH });
  if (head.length < 8 || head[0] !== 0 || head[1] !== 0 || head[3] < 1) throw new Error(`${path}: not an IDX file`);
  return head.readUInt32BE(4);
}
