// Per-adapter tuning: measured once, cached atomically, reused by the default matmul.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getRuntime } from '../src/gpu/runtime.ts';
import { loadTuning, tuneMatmul } from '../src/ops/tuning.ts';
import { availableMatmulVariants } from '../src/ops/matmul.ts';
import { settings } from '../src/util/settings.ts';

test('tuning measures every available design, caches the fastest, and the cache is reused', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'saln-tune-'));
  const saved = settings.cache;
  settings.cache = dir;
  try {
    const rt = await getRuntime();
    assert.is(loadTuning(rt), null);
    const first = await tuneMatmul(rt);
    const measured = Object.keys(first.gflops).sort();
    assert.equal(measured, [...availableMatmulVariants(rt)].sort());
    const best = Object.entries(first.gflops).sort((a, b) => b[1] - a[1])[0][0];
    assert.is(first.variant, best);
    assert.equal(readdirSync(dir), ['tuning.json'], 'a temp file was left behind');
    const onDisk = JSON.parse(readFileSync(join(dir, 'tuning.json'), 'utf8'));
    assert.is(onDisk[rt.ctx.adapterKey].variant, first.variant);
    const second = await tuneMatmul(rt);
    assert.is(second.measuredAt, first.measuredAt, 'the cached choice was measured again');
  } finally {
    settings.cache = saved;
    if (existsSync(dir)) rmSync(dir, { recursive: true });
  }
});

test.run();
