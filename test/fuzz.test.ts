// Corrupt inputs, fuzzed: seeded random mutations (truncation, bit flips, wrong sizes, inserted and deleted bytes,
// header fields set to boundary values) of a CIFAR-10 batch, IDX files (plain and gzipped), a JPEG, safetensors
// checkpoints and a metrics.jsonl. Each case must end in the format's own one-line error naming the file, or in a
// load that an independent reading of the same bytes confirms: never a TypeError/RangeError from inside a parser,
// a hang, or an allocation the file's size does not justify.
//
// SALN_FUZZ_COUNT   cases per format (default 200, what CI runs; `npm run test:long` runs 10,000)
// SALN_FUZZ_SEED    the seed (default 1); a failure prints it with the case's index and its mutations
// SALN_FUZZ_ONLY    FORMAT or FORMAT:INDEX, to replay one format or one case
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Worker } from 'node:worker_threads';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { readSafetensors, SafetensorsError } from '../src/train/safetensors.ts';
import { decodeImage } from '../datasets/image.ts';
import { DatasetError } from '../datasets/errors.ts';
import { TARGETS } from './fixtures/fuzz-targets.ts';
import type { FuzzJob, FuzzMessage, LoaderCounts } from './fixtures/fuzz-worker.ts';

const COUNT = Number(process.env.SALN_FUZZ_COUNT ?? 200);
const SEED = Number(process.env.SALN_FUZZ_SEED ?? 1);
const [ONLY_TARGET, ONLY_CASE] = (process.env.SALN_FUZZ_ONLY ?? '').split(':');
// Generous: the parsers take well under 50 ms a case; the bound is for a machine shared with a training run.
const CASE_MS = Number(process.env.SALN_FUZZ_CASE_MS ?? 3000);
const HANG_MS = 4 * CASE_MS;
const ALLOCATION_CAP = 64 * 2 ** 20;

interface FuzzReport {
  cases: number;
  failures: string[];
  counts: Record<string, LoaderCounts>;
  slowestMs: number;
  seconds: number;
}

/** The worker is TypeScript: it registers tsx's loader for itself before importing the fuzz code. */
const BOOTSTRAP = `
import { register } from ${JSON.stringify(import.meta.resolve('tsx/esm/api'))};
register();
await import(${JSON.stringify(new URL('./fixtures/fuzz-worker.ts', import.meta.url).href)});
`;

function runCases(target: string, start: number, count: number): Promise<FuzzReport> {
  const job: FuzzJob = { target, seed: SEED, start, count, caseMs: CASE_MS, allocationCap: ALLOCATION_CAP };
  const started = performance.now();
  return new Promise((resolve) => {
    // A heap limit turns a runaway parser into a worker error instead of the test process dying.
    const worker = new Worker(BOOTSTRAP, { eval: true, workerData: job, resourceLimits: { maxOldGenerationSizeMb: 512 } });
    const report: FuzzReport = { cases: 0, failures: [], counts: {}, slowestMs: 0, seconds: 0 };
    let current = 'starting the worker';
    const replay = (index: number) => `SALN_FUZZ_SEED=${SEED} SALN_FUZZ_ONLY=${target}:${index}`;
    let watchdog: NodeJS.Timeout | undefined;
    const arm = (ms: number) => {
      clearTimeout(watchdog);
      watchdog = setTimeout(() => {
        report.failures.push(`${current}: no answer within ${ms} ms (a hang)`);
        void worker.terminate();
      }, ms);
    };
    arm(60_000); // the worker's start-up imports; each case then gets HANG_MS
    worker.on('message', (message: FuzzMessage) => {
      if (message.type === 'begin') {
        if (!current.startsWith(`case ${message.index} `)) report.cases++;
        current = `case ${message.index} (${replay(message.index)}) ${message.what}`;
        arm(HANG_MS);
      } else if (message.type === 'fail') {
        report.failures.push(`case ${message.index} (${replay(message.index)}) ${message.what} -> ${message.problem}`);
      } else {
        Object.assign(report, { counts: message.counts, slowestMs: message.slowestMs });
        clearTimeout(watchdog);
      }
    });
    worker.on('error', (error) => report.failures.push(`${current}: the worker died (${(error as NodeJS.ErrnoException).code ?? ''} ${error.message})`));
    worker.on('exit', () => {
      clearTimeout(watchdog);
      report.seconds = (performance.now() - started) / 1000;
      resolve(report);
    });
  });
}

for (const target of Object.keys(TARGETS)) {
  if (ONLY_TARGET && ONLY_TARGET !== target) continue;
  const start = ONLY_CASE ? Number(ONLY_CASE) : 0;
  const count = ONLY_CASE ? 1 : COUNT;
  test(`${target}: ${count} mutated files each end in a clear error or a verified load`, async () => {
    const report = await runCases(target, start, count);
    const counts = Object.entries(report.counts).map(([loader, c]) => `${loader} ${c.loaded} loaded, rejected ${Object.entries(c.rejected).map(([type, n]) => `${n} ${type}`).join(' + ') || 'none'}`).join('; ');
    console.log(`  fuzz ${target}: ${report.cases} cases, seed ${SEED}: ${counts}; slowest case ${report.slowestMs.toFixed(1)} ms; ${report.seconds.toFixed(1)} s`);
    assert.is(report.failures.length, 0, `${report.failures.length} failures:\n${report.failures.slice(0, 12).join('\n')}`);
    assert.is(report.cases, count);
  });
}

/** The largest typed array or ArrayBuffer that `fn` allocates (through the global constructors), in bytes. */
function largestAllocation(fn: () => void): number {
  let largest = 0;
  const restore: [string, unknown][] = [];
  for (const name of ['ArrayBuffer', 'Uint8Array', 'Uint16Array', 'Int16Array', 'Uint32Array', 'Int32Array', 'Float32Array', 'Float64Array']) {
    const original = (globalThis as Record<string, unknown>)[name] as { new(...args: unknown[]): unknown; BYTES_PER_ELEMENT?: number };
    restore.push([name, original]);
    (globalThis as Record<string, unknown>)[name] = new Proxy(original, {
      construct(target, args, newTarget) {
        if (typeof args[0] === 'number') largest = Math.max(largest, args[0] * (target.BYTES_PER_ELEMENT ?? 1));
        return Reflect.construct(target, args, newTarget);
      },
    });
  }
  try {
    fn();
  } finally {
    for (const [name, original] of restore) (globalThis as Record<string, unknown>)[name] = original;
  }
  return largest;
}

test('a safetensors header that declares 1e15 bytes is rejected before anything that size is allocated', () => {
  const dir = mkdtempSync(join(tmpdir(), 'saln-fuzz-'));
  try {
    const path = join(dir, 'huge.safetensors');
    const header = (json: string) => {
      const text = Buffer.from(json);
      const length = Buffer.alloc(8);
      length.writeBigUInt64LE(BigInt(text.length));
      return Buffer.concat([length, text, Buffer.alloc(16)]);
    };
    const withLength = (value: bigint) => { const b = header('{}'); b.writeBigUInt64LE(value); return b; };
    // A tensor whose shape and offsets agree on 1e15 bytes, a shape of 1e15 bytes over 0 bytes of data, and
    // header lengths of 1e15 and 2^64 - 1.
    const cases: [Buffer, RegExp][] = [
      [header(JSON.stringify({ t: { dtype: 'F32', shape: [250e12], data_offsets: [0, 1e15] } })), /tensor t ends at byte 1000000000000000 of the data section, which holds 16 bytes/],
      [header(JSON.stringify({ t: { dtype: 'U8', shape: [1e15, 1], data_offsets: [16, 16] } })), /needs 1000000000000000 bytes/],
      [withLength(10n ** 15n), /header length 1000000000000000 exceeds/],
      [withLength(2n ** 64n - 1n), /header length 18446744073709551615 exceeds/],
    ];
    for (const [bytes, pattern] of cases) {
      writeFileSync(path, bytes);
      const started = performance.now();
      const largest = largestAllocation(() => {
        assert.throws(() => readSafetensors(path), (e: Error) => e instanceof SafetensorsError && pattern.test(e.message) && e.message.startsWith(path) && !e.message.includes('\n'));
      });
      assert.ok(performance.now() - started < 1000, 'rejected at once');
      assert.ok(largest <= bytes.length, `allocated ${largest} bytes for a ${bytes.length}-byte file`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a JPEG header that declares 9000x10000 pixels in a few hundred bytes is rejected before decoding', () => {
  const rgba = new Uint8Array(16 * 8 * 4).fill(200);
  const bytes = new Uint8Array(jpeg.encode({ width: 16, height: 8, data: rgba }, 80).data);
  const frame = bytes.findIndex((b, i) => b === 0xff && bytes[i + 1] === 0xc0);
  const view = new DataView(bytes.buffer);
  view.setUint16(frame + 5, 9000, false);
  view.setUint16(frame + 7, 10000, false);
  const largest = largestAllocation(() => {
    assert.throws(() => decodeImage(bytes, 'big.jpg'), (e: Error) => e instanceof DatasetError && /^big\.jpg: corrupt JPEG: the header declares 10000x9000 pixels, more than \d+ bytes can encode$/.test(e.message));
  });
  assert.ok(largest < 1e6, `allocated ${largest} bytes`);
});

test.run();
