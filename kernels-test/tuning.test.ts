// Per-adapter tuning: measured once, cached atomically, reused by the default matmul.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getRuntime } from '../src/gpu/runtime.ts';
import { loadTuning, tuneMatmul } from '../src/ops/tuning.ts';
import { availableMatmulVariants, convKSteps } from '../src/ops/matmul.ts';
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

test('on the subgroup design the k steps of the convs are measured too, also for a cache written before them', async () => {
  const rt = await getRuntime();
  if (!availableMatmulVariants(rt).includes('subgroup')) return;
  const dir = mkdtempSync(join(tmpdir(), 'saln-tune-'));
  const saved = settings.cache;
  settings.cache = dir;
  try {
    // An older cache: the subgroup design chosen, no k steps.
    const old = { variant: 'subgroup', gflops: { subgroup: 1, texture: 0.5 }, measuredAt: '2026-01-01T00:00:00.000Z' };
    writeFileSync(join(dir, 'tuning.json'), JSON.stringify({ [rt.ctx.adapterKey]: old }));
    const tuned = await tuneMatmul(rt);
    assert.is(tuned.variant, 'subgroup');
    assert.equal(tuned.gflops, old.gflops, 'the cached designs were measured again');
    const seconds = tuned.kStepsSeconds!;
    assert.ok(seconds[1] > 0 && seconds[2] > 0, `k-step timings: ${JSON.stringify(seconds)}`);
    assert.is(tuned.kSteps, seconds[2] < seconds[1] * 0.97 ? 2 : 1, 'two steps only where they win by more than 3%');
    const onDisk = JSON.parse(readFileSync(join(dir, 'tuning.json'), 'utf8'))[rt.ctx.adapterKey];
    assert.is(onDisk.kSteps, tuned.kSteps);
    assert.is(onDisk.measuredAt, old.measuredAt);
    assert.is(convKSteps(rt), tuned.kSteps, 'the convs do not use the tuned k steps');
    // SALN_KSTEPS wins over the tuning; anything but 1 or 2 is refused by name.
    for (const forced of ['1', '2'] as const) {
      settings.kSteps = forced;
      assert.is(convKSteps(rt), Number(forced));
    }
    settings.kSteps = '3';
    assert.throws(() => convKSteps(rt), /SALN_KSTEPS=3 is not 1 or 2/);
  } finally {
    settings.cache = saved;
    settings.kSteps = undefined;
    if (existsSync(dir)) rmSync(dir, { recursive: true });
  }
});

test.run();
