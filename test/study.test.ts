// `saln study`: a small study run as separate processes into one directory (as a Slurm array or GNU parallel
// would), merged by yet another; adding an arm reruns nothing else; and the merge's paired statistics on
// results whose differences are known.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, removeTempDirs, saln, tempDir } from './saln-cli.ts';
import { expandRuns, PRESETS, settingsHash } from '../src/study/plan.ts';
import { summarise, NONE_ARM, RANDOM_ARM } from '../src/study/report.ts';
import type { RunResult } from '../src/study/run.ts';

const SMALL = ['--preset', 'tiny', '--conditions', 'noise:0.25', '--seeds', '2'];

function spawnAsync(args: string[]): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('close', (status) => resolve({ status, stderr }));
  });
}

test('a study spread over processes: list, runs by index in parallel, the rest, merge, then one more arm', async () => {
  const out = tempDir('saln-study-');
  const base = [...SMALL, '--out', out, '--arms', 'none (same steps),random,stratified'];
  const listed = saln(['study', 'list', ...base, '--json']);
  assert.is(listed.status, 0, listed.stderr);
  const runs = listed.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.is(runs.length, 6, 'none, random and one SALN arm, two seeds, one condition');
  assert.ok(runs.every((r: { done: boolean }) => !r.done));
  assert.is(new Set(runs.map((r: { id: string }) => r.id)).size, 6, 'ids are distinct');

  // Two runs at once, in two processes, as two array tasks would.
  const [a, b] = await Promise.all([spawnAsync(['study', 'run', ...base, '--index', '0']), spawnAsync(['study', 'run', ...base, '--index', '2'])]);
  assert.is(a.status, 0, a.stderr);
  assert.is(b.status, 0, b.stderr);
  const afterTwo = saln(['study', 'list', ...base, '--json']).stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(afterTwo.filter((r: { done: boolean }) => r.done).map((r: { index: number }) => r.index), [0, 2]);

  const rest = saln(['study', 'run', ...base]);
  assert.is(rest.status, 0, rest.stderr);
  assert.match(rest.stderr, /4 runs finished, 2 already done/);
  const study = JSON.parse(readFileSync(join(out, 'study.json'), 'utf8'));
  assert.is(study.runs, 6);
  const salnArm = study.arms.find((x: { arm: string }) => x.arm.includes('stratified'));
  assert.ok(salnArm, 'the SALN arm is summarised');
  assert.equal(salnArm.seeds, [0, 1]);
  assert.is(salnArm.vsRandom.final.pairs, 2, 'paired with random over both seeds');
  assert.ok(['win', 'tie', 'loss'].includes(salnArm.vsRandom.final.verdict));
  const noisy = salnArm.keptFlagged.noisy;
  assert.ok(noisy.kept >= 0 && noisy.kept <= 1 && Math.abs(noisy.candidates - 0.25) < 0.05, `noisy share offered ${noisy.candidates} is the condition's 25%`);
  assert.ok(salnArm.diagnostics.keptClasses > 0 && salnArm.diagnostics.keptClasses <= salnArm.diagnostics.batchClasses);
  const md = readFileSync(join(out, 'study.md'), 'utf8');
  assert.match(md, /## noise:0\.25/);
  assert.match(md, /Verdicts against random/);
  assert.ok(existsSync(join(out, 'pictures', 'noise_0.25-accuracy-vs-images.svg')));

  // One more arm: only its runs train; the others keep their results (their ids do not depend on the arm list).
  const more = saln(['study', 'run', ...SMALL, '--out', out, '--arms', 'none (same steps),random,stratified,rho']);
  assert.is(more.status, 0, more.stderr);
  assert.match(more.stderr, /2 runs finished, 6 already done/);
  assert.is(readdirSync(join(out, 'runs')).length, 8);
});

test('study: bad flags are one-line usage errors before any work', () => {
  for (const [args, pattern] of [
    [['study'], /say list, run or merge/],
    [['study', 'list', '--preset', 'huge'], /unknown study preset 'huge'/],
    [['study', 'list', '--conditions', 'noise:2'], /--conditions: .*noise/],
    [['study', 'list', '--arms', 'nothing-like-this'], /matches no arm/],
    [['study', 'run', '--preset', 'tiny', '--index', '999'], /past the last run/],
  ] as [string[], RegExp][]) {
    const r = saln(args);
    assert.is(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, pattern);
  }
});

test('run ids hash the full settings and nothing else: stable, and subsets of a study share them', () => {
  const full = expandRuns(PRESETS.screening);
  const again = expandRuns(PRESETS.screening);
  assert.equal(full.map((r) => r.id), again.map((r) => r.id));
  const fewer = expandRuns({ ...PRESETS.screening, arms: PRESETS.screening.arms.slice(2, 3), seeds: [1] });
  assert.ok(fewer.every((r) => full.some((f) => f.id === r.id)));
  // none at the same steps selects nothing: one run per seed serves every keep ratio.
  const twoKeeps = expandRuns({ ...PRESETS.screening, keeps: [0.25, 0.5], conditions: ['clean'] });
  assert.is(twoKeeps.filter((r) => r.arm.label === NONE_ARM).length, PRESETS.screening.seeds.length);
  assert.is.not(settingsHash({ a: 1, b: 2 }), settingsHash({ a: 1, b: 3 }));
  assert.is(settingsHash({ a: 1, b: 2 }), settingsHash({ b: 2, a: 1 }));
});

function fakeRun(arm: string, seed: number, finalAccuracy: number, keep = 0.5): RunResult {
  const images = arm === NONE_ARM ? 2000 : 1000;
  return {
    id: `${arm}-${seed}`, condition: 'clean', arm, selector: arm, keep: arm === NONE_ARM ? 1 : keep, seed, settings: {}, classes: 10,
    finalAccuracy, balancedAccuracy: finalAccuracy,
    evals: [{ images: images / 2, seconds: 5, step: 1, accuracy: finalAccuracy - 0.1 }, { images, seconds: 10, step: 2, accuracy: finalAccuracy }],
    steps: 2, imagesTrained: images, imagesForwarded: images, trainSeconds: 10, selectionSeconds: 1, diagnostics: {}, keptFlagged: {}, finishedAt: '',
  };
}

test('merge: paired differences against random and none, their interval and verdict', () => {
  // The arm beats random by 2, 3 and 4 points on seeds 0, 1, 2: mean 3, sd 1, t(0.975, 2) = 4.303.
  const results = [
    ...[0.70, 0.71, 0.72].map((a, s) => fakeRun(RANDOM_ARM, s, a)),
    ...[0.72, 0.74, 0.76].map((a, s) => fakeRun('saln', s, a)),
    ...[0.80, 0.80, 0.80].map((a, s) => fakeRun(NONE_ARM, s, a)),
  ];
  // An arm that is at 0.80 after 5 s (its first evaluation) and 0.90 at the end.
  results.push(...[0, 1, 2].map((s) => fakeRun('fast', s, 0.90)));
  const report = summarise(results, { name: 'fake', target: 0.5 });
  const arm = report.arms.find((a) => a.arm === 'saln')!;
  assert.ok(Math.abs(arm.vsRandom!.final.mean - 0.03) < 1e-12);
  const half = 4.302652729911275 * 0.01 / Math.sqrt(3);
  assert.ok(Math.abs(arm.vsRandom!.final.low - (0.03 - half)) < 1e-6, `low ${arm.vsRandom!.final.low}`);
  assert.is(arm.vsRandom!.final.verdict, 'win');
  assert.is(arm.vsNone!.final.verdict, 'loss', '6 points under none on every seed');
  // The condition's target is none's mean final accuracy less one point (not the preset's 0.5).
  assert.ok(Math.abs(arm.target - 0.79) < 1e-12, `target ${arm.target}`);
  assert.equal(arm.secondsToTarget, [null, null, null]);
  assert.is(arm.speedupVsNone, null);
  const fast = report.arms.find((a) => a.arm === 'fast')!;
  assert.equal(fast.secondsToTarget, [5, 5, 5]);
  assert.ok(Math.abs(fast.speedupVsNone! - 2) < 1e-12, 'none reaches 0.79 at 10 s, the fast arm at 5 s');
  assert.equal(report.arms.map((a) => a.arm), [NONE_ARM, RANDOM_ARM, 'fast', 'saln'], 'controls first');
});

test.after(removeTempDirs);
test.run();
