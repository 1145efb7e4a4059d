// `saln study list | run | merge`: the selection experiment as independent runs in one directory. Any scheduler
// spreads it (a Slurm array runs `saln study run --index $SLURM_ARRAY_TASK_ID`, GNU parallel runs ids from
// `saln study list`), and `merge` turns whatever has finished into study.md, study.json and charts.
import { join, resolve } from 'node:path';
import { parse, UsageError } from '../util/args.ts';
import { getRuntime } from '../gpu/runtime.ts';
import { tuneMatmul } from '../ops/tuning.ts';
import { acquireRunLock, RunLockError } from '../train/lock.ts';
import { ProgressBar } from '../util/progress.ts';
import { createSelector } from '../select/registry.ts';
import { parseCondition } from '../../datasets/conditions.ts';
import { expandRuns, presetByName, PRESETS, type StudyPreset, type StudyRun } from '../study/plan.ts';
import { readResult, runStudyRun } from '../study/run.ts';
import { mergeStudy, verdictSentences, verdictTable } from '../study/report.ts';
import { numberFlag } from './run-options.ts';

const HELP = `usage: saln study list [options] [--json]
       saln study run [options] [--id ID | --index N]
       saln study merge [options]

Conditions x arms x keep ratios x seeds, each run cached in --out by the hash of its settings: an interrupted
study resumes, adding an arm reruns nothing else, and runs spread over machines sharing --out.

  list                    the runs, one per line: index, id, done or pending, condition, arm, keep, seed
  run                     without --id/--index: every pending run here, one after another, then merge
  merge                   study.md, study.json and pictures/ from the finished runs

  --preset NAME           ${Object.values(PRESETS).map((p) => `${p.name}: ${p.description}`).join('\n                          ')}
                          (default screening)
  --out DIR               the study directory (default runs/study-<preset>)
  --id ID                 run only this run (an id from 'list')
  --index N               run only the N-th run of 'list' (0-based; e.g. \$SLURM_ARRAY_TASK_ID)
  --conditions LIST       override the preset's conditions: clean, noise:P, duplicates:F, imbalance:R,
                          corrupt:F, transfer
  --arms LIST             only the arms whose label contains one of these comma-separated words
  --seeds N               seeds 0..N-1 instead of the preset's
  --keeps LIST            keep ratios instead of the preset's (e.g. 0.25,0.5)
  --json                  (list) one JSON object per run
`;

function presetFromFlags(values: Record<string, unknown>): StudyPreset {
  let preset: StudyPreset;
  try { preset = { ...presetByName(values.preset as string) }; } catch (e) { throw new UsageError(`study: ${(e as Error).message}`); }
  if (values.conditions !== undefined) {
    const conditions = (values.conditions as string).split(',').map((s) => s.trim()).filter(Boolean);
    for (const c of conditions) {
      try { parseCondition(c); } catch (e) { throw new UsageError(`study: --conditions: ${(e as Error).message}`); }
    }
    if (conditions.length === 0) throw new UsageError('study: --conditions is empty');
    preset.conditions = conditions;
  }
  if (values.arms !== undefined) {
    const words = (values.arms as string).split(',').map((s) => s.trim()).filter(Boolean);
    preset.arms = preset.arms.filter((a) => words.some((w) => a.label.includes(w)));
    if (preset.arms.length === 0) throw new UsageError(`study: --arms ${values.arms} matches no arm of ${preset.name}; its arms: ${presetByName(preset.name).arms.map((a) => a.label).join('; ')}`);
  }
  if (values.seeds !== undefined) preset.seeds = Array.from({ length: numberFlag('study', 'seeds', values.seeds as string, 'positiveInteger') }, (_, i) => i);
  if (values.keeps !== undefined) {
    preset.keeps = (values.keeps as string).split(',').map((s) => numberFlag('study', 'keeps', s.trim(), 'fraction'));
    if (preset.keeps.some((k) => k <= 0)) throw new UsageError('study: --keeps must lie in (0, 1)');
  }
  for (const arm of preset.arms) {
    try { createSelector(arm.selector, arm.options); } catch (e) { throw new UsageError(`study: arm '${arm.label}': ${(e as Error).message}`); }
  }
  return preset;
}

function describe(run: StudyRun): string {
  return `${run.condition} | ${run.arm.label} | keep ${run.keep} | seed ${run.seed}`;
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse('study', argv, {
    preset: { type: 'string', default: 'screening' }, out: { type: 'string' }, id: { type: 'string' }, index: { type: 'string' },
    conditions: { type: 'string' }, arms: { type: 'string' }, seeds: { type: 'string' }, keeps: { type: 'string' }, json: { type: 'boolean' },
  }, true);
  if (values.help) { process.stdout.write(HELP); return 0; }
  const [action, ...extra] = positionals;
  if (!['list', 'run', 'merge'].includes(action ?? '')) throw new UsageError(`study: say list, run or merge${action ? `, not '${action}'` : ''}`);
  if (extra.length) throw new UsageError(`study: unexpected argument '${extra[0]}'`);
  const preset = presetFromFlags(values);
  const out = resolve(values.out ?? join('runs', `study-${preset.name}`));
  const runs = expandRuns(preset);
  const command = `saln study ${argv.join(' ')}`;

  if (action === 'list') {
    runs.forEach((r, i) => {
      const done = readResult(out, r.id) !== null;
      process.stdout.write(values.json
        ? `${JSON.stringify({ index: i, id: r.id, done, condition: r.condition, arm: r.arm.label, keep: r.keep, seed: r.seed })}\n`
        : `${String(i).padStart(4)}  ${r.id}  ${done ? 'done   ' : 'pending'}  ${describe(r)}\n`);
    });
    return 0;
  }
  if (action === 'merge') {
    const report = await mergeStudy(out, preset, command);
    process.stdout.write(`${verdictTable(report)}\n\n${verdictSentences(report).join('\n')}\n`);
    process.stderr.write(`outputs: ${out}/{study.md, study.json, pictures/}\n`);
    return 0;
  }

  let chosen = runs;
  if (values.id !== undefined && values.index !== undefined) throw new UsageError('study: give --id or --index, not both');
  if (values.id !== undefined) {
    chosen = runs.filter((r) => r.id === values.id);
    if (chosen.length === 0) throw new UsageError(`study: no run '${values.id}' in preset ${preset.name} with these flags (see 'saln study list')`);
  } else if (values.index !== undefined) {
    const index = numberFlag('study', 'index', values.index, 'nonNegativeInteger');
    if (index >= runs.length) throw new UsageError(`study: --index ${index} is past the last run (${runs.length - 1})`);
    chosen = [runs[index]];
  }
  const pending = chosen.filter((r) => readResult(out, r.id) === null);
  const rt = await getRuntime({ adapter: values.adapter });
  const log = (line: string) => process.stderr.write(`${line}\n`);
  await tuneMatmul(rt, { log });
  const bar = pending.length > 1 ? new ProgressBar({ total: pending.length, label: 'study', unit: 'run' }) : null;
  const say = (line: string) => (bar ? bar.log(line) : log(line));
  let finished = 0, skipped = 0;
  for (const r of pending) {
    // A run another process holds is left to it; this one moves on.
    let lock;
    try {
      lock = acquireRunLock(join(out, 'locks', r.id), { onNote: say });
    } catch (e) {
      if (!(e instanceof RunLockError)) throw e;
      skipped++;
      say(`skipped (running elsewhere): ${describe(r)}`);
      continue;
    }
    try {
      const started = performance.now();
      const result = await runStudyRun(rt, preset, r, out, say);
      finished++;
      say(`${describe(r)}: ${(100 * result.finalAccuracy).toFixed(2)}% in ${((performance.now() - started) / 1000).toFixed(0)} s`);
    } finally {
      lock.release();
    }
    bar?.update(finished + skipped);
  }
  bar?.finish();
  log(`${finished} runs finished, ${chosen.length - pending.length} already done${skipped ? `, ${skipped} running elsewhere` : ''}`);
  if (values.id === undefined && values.index === undefined) {
    const report = await mergeStudy(out, preset, command.replace(/^saln study run/, 'saln study merge'));
    process.stdout.write(`${verdictTable(report)}\n\n${verdictSentences(report).join('\n')}\n`);
    process.stderr.write(`outputs: ${out}/{study.md, study.json, pictures/}\n`);
  }
  return 0;
}
