// Merging a study: whatever results are in `<out>/runs/*/result.json` (from any number of machines) become
// study.json, study.md and charts with seed bands. Every arm is compared with `random` at the same keep ratio and
// with `none` at the same steps, paired by seed (same initialisation, order, augmentation and perturbation), and
// the verdict comes from the paired 95% interval, never from a single run.
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic.ts';
import { accuracyBandChart, type BandSeries } from '../report/charts.ts';
import { areaUnderCurve, firstReach, pairedInterval, verdict } from './stats.ts';
import { readResult, type RunResult } from './run.ts';
import type { StudyPreset } from './plan.ts';
import { writeStudyReport } from '../report/html.ts';

export const RANDOM_ARM = 'random';
export const NONE_ARM = 'none (same steps)';

export interface Comparison {
  /** Mean paired difference (arm - control), its 95% interval and how many seed pairs it rests on. */
  mean: number;
  low: number;
  high: number;
  pairs: number;
  verdict: 'win' | 'tie' | 'loss';
}

/** The arm's means over its runs of the cost and diagnostics fields of RunResult, under the same names. */
export interface ArmSummary extends Pick<RunResult, 'trainSeconds' | 'imagesTrained' | 'imagesForwarded' | 'diagnostics' | 'keptFlagged'> {
  condition: string;
  keep: number;
  arm: string;
  seeds: number[];
  finalAccuracy: { mean: number; sd: number };
  balancedAccuracy: { mean: number; sd: number };
  /** Mean test accuracy over the images back-propagated, up to the random arm's budget (area under the curve). */
  auc: { mean: number; sd: number };
  vsRandom: { final: Comparison; auc: Comparison } | null;
  vsNone: { final: Comparison } | null;
  /** The condition's target: none's mean final accuracy there, less TARGET_MARGIN. */
  target: number;
  /** Training seconds (selection included) to the target; null for a seed that never reached it. */
  secondsToTarget: (number | null)[];
  /** none's mean seconds to target over this arm's (runs that reached it): > 1 means faster than none. */
  speedupVsNone: number | null;
  selectionShare: number;
}

export interface StudyReport {
  preset: string;
  target: number;
  interval: string;
  runs: number;
  arms: ArmSummary[];
}

export function collectResults(out: string): RunResult[] {
  const root = join(out, 'runs');
  if (!existsSync(root)) return [];
  return readdirSync(root).map((id) => readResult(out, id)).filter((r): r is RunResult => r !== null);
}

const meanOf = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
function meanSd(xs: number[]): { mean: number; sd: number } {
  const mean = meanOf(xs);
  const sd = xs.length > 1 ? Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (xs.length - 1)) : NaN;
  return { mean, sd };
}

function curve(run: RunResult) {
  return run.evals.map((e) => ({ x: e.images, y: e.accuracy }));
}

/** Paired difference arm - control over the seeds both have. */
function compare(arm: RunResult[], control: RunResult[], value: (r: RunResult) => number): Comparison | null {
  const bySeed = new Map(control.map((r) => [r.seed, r]));
  const a: number[] = [], b: number[] = [];
  for (const r of arm) {
    const c = bySeed.get(r.seed);
    if (c) { a.push(value(r)); b.push(value(c)); }
  }
  if (a.length === 0) return null;
  const interval = pairedInterval(a, b);
  return { mean: interval.mean, low: interval.low, high: interval.high, pairs: a.length, verdict: verdict(interval) };
}

/**
 * Time to a target is measured per condition against what standard training reaches there (none's mean final
 * accuracy less one point): a fixed target is out of reach in hard conditions and trivial in easy ones, and the
 * question is how much sooner a selector gets to standard training's result.
 */
export const TARGET_MARGIN = 0.01;

export function summarise(results: RunResult[], preset: Pick<StudyPreset, 'name' | 'target'>): StudyReport {
  const groups = new Map<string, RunResult[]>();
  const keyOf = (condition: string, keep: number, arm: string) => `${condition}\u0000${keep}\u0000${arm}`;
  for (const r of results) {
    const key = keyOf(r.condition, r.keep, r.arm);
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const keeps = [...new Set(results.filter((r) => r.arm === RANDOM_ARM).map((r) => r.keep))];
  const arms: ArmSummary[] = [];
  const conditions = [...new Set(results.map((r) => r.condition))].sort((a, b) => (a === 'clean' ? -1 : b === 'clean' ? 1 : a.localeCompare(b)));
  for (const condition of conditions) {
    const none = groups.get(keyOf(condition, 1, NONE_ARM)) ?? [];
    for (const keep of keeps.length ? keeps : [1]) {
      const random = groups.get(keyOf(condition, keep, RANDOM_ARM)) ?? [];
      // The AUC horizon: what random back-propagates at this keep ratio (every selector at this keep does too).
      const horizon = random.length ? meanOf(random.map((r) => r.imagesTrained)) : Math.max(...results.map((r) => r.imagesTrained));
      // From chance at no images: the first evaluation comes after some training, and holding it back to 0 flatters.
      const auc = (r: RunResult) => areaUnderCurve(curve(r), horizon, { start: 1 / r.classes });
      const target = none.length ? meanOf(none.map((r) => r.finalAccuracy)) - TARGET_MARGIN : preset.target;
      const noneSeconds = none.map((r) => firstReach(r.evals.map((e) => ({ x: e.seconds, y: e.accuracy })), target)).filter((s): s is number => s !== null);
      // Controls first, then the arms in a fixed order, so tables line up across conditions.
      const rank = (arm: string) => (arm === NONE_ARM ? 0 : arm.startsWith('none') ? 1 : arm === RANDOM_ARM ? 2 : 3);
      const armNames = [...new Set(results.filter((r) => r.condition === condition && (r.keep === keep || r.arm === NONE_ARM)).map((r) => r.arm))]
        .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
      for (const arm of armNames) {
        const runs = (groups.get(keyOf(condition, arm === NONE_ARM ? 1 : keep, arm)) ?? []).sort((a, b) => a.seed - b.seed);
        if (runs.length === 0) continue;
        const toTarget = runs.map((r) => firstReach(r.evals.map((e) => ({ x: e.seconds, y: e.accuracy })), target));
        const reached = toTarget.filter((s): s is number => s !== null);
        const vsRandomFinal = arm === RANDOM_ARM ? null : compare(runs, random, (r) => r.finalAccuracy);
        const vsRandomAuc = arm === RANDOM_ARM ? null : compare(runs, random, auc);
        const vsNoneFinal = arm === NONE_ARM ? null : compare(runs, none, (r) => r.finalAccuracy);
        const flaggedKeys = [...new Set(runs.flatMap((r) => Object.keys(r.keptFlagged)))];
        const diagnosticKeys = [...new Set(runs.flatMap((r) => Object.keys(r.diagnostics)))];
        arms.push({
          condition, keep: arm === NONE_ARM ? 1 : keep, arm, seeds: runs.map((r) => r.seed), target,
          finalAccuracy: meanSd(runs.map((r) => r.finalAccuracy)),
          balancedAccuracy: meanSd(runs.map((r) => r.balancedAccuracy)),
          auc: meanSd(runs.map(auc)),
          vsRandom: vsRandomFinal && vsRandomAuc ? { final: vsRandomFinal, auc: vsRandomAuc } : null,
          vsNone: vsNoneFinal ? { final: vsNoneFinal } : null,
          secondsToTarget: toTarget,
          speedupVsNone: reached.length && noneSeconds.length ? meanOf(noneSeconds) / meanOf(reached) : null,
          trainSeconds: meanOf(runs.map((r) => r.trainSeconds)),
          selectionShare: meanOf(runs.map((r) => r.trainSeconds > 0 ? r.selectionSeconds / r.trainSeconds : 0)),
          imagesTrained: meanOf(runs.map((r) => r.imagesTrained)),
          imagesForwarded: meanOf(runs.map((r) => r.imagesForwarded)),
          diagnostics: Object.fromEntries(diagnosticKeys.map((k) => [k, meanOf(runs.map((r) => r.diagnostics[k]).filter((v) => v !== undefined))])),
          keptFlagged: Object.fromEntries(flaggedKeys.map((k) => [k, {
            kept: meanOf(runs.map((r) => r.keptFlagged[k]?.kept ?? 0)), candidates: meanOf(runs.map((r) => r.keptFlagged[k]?.candidates ?? 0)),
          }])),
        });
      }
    }
  }
  return { preset: preset.name, target: preset.target, interval: 'paired Student t, 95%, over seeds', runs: results.length, arms };
}

const pct = (x: number) => (Number.isFinite(x) ? (100 * x).toFixed(2) : 'n/a');
const signed = (x: number) => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(2)}`;
function comparisonCell(c: Comparison | null | undefined): string {
  if (!c) return '';
  const interval = Number.isFinite(c.low) ? `[${signed(c.low)}, ${signed(c.high)}]` : '[n/a: one seed]';
  return `${signed(c.mean)} ${interval} **${c.verdict}**`;
}

export function studyMarkdown(report: StudyReport, preset: StudyPreset | null, command: string): string {
  const lines = [`# Study: ${report.preset}`, ''];
  if (preset) lines.push(preset.description, '');
  lines.push(`Command: \`${command}\``, '',
    `${report.runs} runs. Differences are in accuracy points, arm minus control, paired by seed; intervals are ${report.interval}; ` +
    `a verdict is a win when the whole interval is above zero, a loss when it is below, else a tie. "AUC" is the mean test accuracy over ` +
    `the images back-propagated, up to random's budget. "Time to target" is in training seconds (selection included, evaluations not) until the ` +
    `test accuracy first reaches the condition's target: none's mean final accuracy there less ${pct(TARGET_MARGIN)} point; the speed-up is ` +
    "none's mean time to that target over the arm's (seeds that reached it).", '');
  for (const condition of [...new Set(report.arms.map((a) => a.condition))]) {
    const target = report.arms.find((a) => a.condition === condition)?.target ?? report.target;
    lines.push(`## ${condition}`, '', `Target: ${pct(target)}%.`, '',
      '| Arm | Keep | Final acc. (%) | Balanced (%) | vs random: final | vs random: AUC | vs none: final | Time to target (s) | Speed-up vs none | Train s | Selection share | Kept classes | Kept label entropy | v2 IPR | Perturbed kept / offered |',
      '| --- | ---: | ---: | ---: | --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
    for (const a of report.arms.filter((x) => x.condition === condition)) {
      const times = a.secondsToTarget.map((s) => (s === null ? 'not reached' : s.toFixed(0))).join(', ');
      const flagged = Object.entries(a.keptFlagged).map(([k, f]) => `${k} ${pct(f.kept)} / ${pct(f.candidates)}`).join('; ');
      lines.push(`| ${a.arm} | ${a.keep} | ${pct(a.finalAccuracy.mean)} ± ${pct(a.finalAccuracy.sd)} | ${pct(a.balancedAccuracy.mean)} | ${comparisonCell(a.vsRandom?.final)} | ${comparisonCell(a.vsRandom?.auc)} | ${comparisonCell(a.vsNone?.final)} | ${times} | ${a.speedupVsNone === null ? '' : `${a.speedupVsNone.toFixed(2)}x`} | ${a.trainSeconds.toFixed(0)} | ${pct(a.selectionShare)}% | ${a.diagnostics.keptClasses?.toFixed(2) ?? ''} | ${a.diagnostics.keptEntropy?.toFixed(3) ?? ''} | ${a.diagnostics.fiedlerIpr?.toFixed(3) ?? ''} | ${flagged} |`);
    }
    lines.push('');
  }
  lines.push('## Verdicts against random (final accuracy / AUC)', '', verdictTable(report), '', ...verdictSentences(report).map((l) => `- ${l}`), '');
  return `${lines.join('\n')}\n`;
}

export function verdictTable(report: StudyReport): string {
  const conditions = [...new Set(report.arms.map((a) => a.condition))];
  const arms = [...new Set(report.arms.filter((a) => a.vsRandom).map((a) => `${a.arm}@${a.keep}`))];
  const rows = [`| Arm | ${conditions.join(' | ')} |`, `| --- |${conditions.map(() => ' --- |').join('')}`];
  for (const arm of arms) {
    const cells = conditions.map((c) => {
      const a = report.arms.find((x) => x.condition === c && `${x.arm}@${x.keep}` === arm);
      return a?.vsRandom ? `${a.vsRandom.final.verdict} (${signed(a.vsRandom.final.mean)}) / ${a.vsRandom.auc.verdict}` : '';
    });
    rows.push(`| ${arm} | ${cells.join(' | ')} |`);
  }
  return rows.join('\n');
}

/** One plain sentence per arm and condition: how it did against random and against none, and how fast. */
export function verdictSentences(report: StudyReport): string[] {
  const interval = (c: Comparison) => (Number.isFinite(c.low) ? `${signed(c.mean)} points [${signed(c.low)}, ${signed(c.high)}]` : `${signed(c.mean)} points (one seed: no interval)`);
  const speed = (a: ArmSummary) => {
    const reached = a.secondsToTarget.filter((x) => x !== null).length;
    const where = `${pct(a.target)}% (none's accuracy less ${pct(TARGET_MARGIN)} point)`;
    if (reached === 0) return `never reached ${where}`;
    return `reached ${where} on ${reached} of ${a.secondsToTarget.length} seeds${a.speedupVsNone === null ? '' : `, ${a.speedupVsNone.toFixed(2)}x as fast as none`}`;
  };
  return report.arms.filter((a) => a.vsRandom).map((a) => {
    const random = a.vsRandom!.final;
    const beat = random.verdict === 'win' ? 'beats' : random.verdict === 'loss' ? 'loses to' : 'ties with';
    const none = a.vsNone ? `; against none (every image of every step) ${interval(a.vsNone.final)}, a ${a.vsNone.final.verdict}` : '';
    return `${a.condition}: ${a.arm} (keep ${a.keep}) ${beat} random: ${interval(random)}${none}; ${speed(a)} (${a.seeds.length} seeds).`;
  });
}

/** Mean and +- one standard deviation over seeds at each evaluation, runs aligned by step. */
function bands(runs: RunResult[], axis: 'images' | 'seconds'): BandSeries['points'] {
  const length = Math.min(...runs.map((r) => r.evals.length));
  return Array.from({ length }, (_, i) => {
    const { mean, sd } = meanSd(runs.map((r) => r.evals[i].accuracy));
    const spread = Number.isFinite(sd) ? sd : 0;
    return { x: meanOf(runs.map((r) => r.evals[i][axis])), mean, lo: mean - spread, hi: mean + spread };
  });
}

export async function studyCharts(dir: string, results: RunResult[]): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  for (const condition of [...new Set(results.map((r) => r.condition))]) {
    const byArm = new Map<string, RunResult[]>();
    for (const r of results.filter((x) => x.condition === condition)) {
      const key = r.arm === NONE_ARM ? r.arm : `${r.arm}@${r.keep}`;
      byArm.set(key, [...(byArm.get(key) ?? []), r]);
    }
    for (const axis of ['images', 'seconds'] as const) {
      const series = [...byArm].map(([selector, runs]) => ({ selector, points: bands(runs, axis) }));
      const file = join(dir, `${condition.replace(/[^a-z0-9.]+/gi, '_')}-accuracy-vs-${axis}.svg`);
      await accuracyBandChart(file, series, axis === 'images' ? 'Images back-propagated' : 'Training seconds', `${condition}: test accuracy (mean ± sd over seeds)`);
      written.push(file);
    }
  }
  return written;
}

/** Writes study.json, study.md and pictures/ from every finished run in `out`. */
export async function mergeStudy(out: string, preset: StudyPreset | null, command: string, charts = true): Promise<StudyReport> {
  const results = collectResults(out);
  if (results.length === 0) throw new Error(`${out}: no finished runs to merge (run 'saln study run' first)`);
  const report = summarise(results, { name: preset?.name ?? 'custom', target: preset?.target ?? 0.8 });
  writeFileAtomic(join(out, 'study.json'), `${JSON.stringify({ ...report, command, preset }, null, 2)}\n`);
  writeFileAtomic(join(out, 'study.md'), studyMarkdown(report, preset, command));
  if (charts) await studyCharts(join(out, 'pictures'), results);
  await writeStudyReport(out);
  return report;
}
