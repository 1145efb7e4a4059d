// One run of a study, into `<out>/runs/<id>/`: the condition applied to the learner's data (seeded by the run's
// seed, so paired runs of every arm see the same perturbation, initialisation, order and augmentation), the
// condition's reference model (trained once per condition on held-out images, shared by every run that needs
// it), training, and result.json written last and atomically: a run directory without it is not finished.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Runtime } from '../gpu/runtime.ts';
import { Trainer, batchesPerEpoch, trainConfig, type TrainConfig } from '../train/trainer.ts';
import { loadTrainData, type LoadedTrainData } from '../../datasets/registry.ts';
import { makeSchedule } from '../train/schedule.ts';
import { MetricsWriter } from '../train/metrics.ts';
import { createSelector } from '../select/registry.ts';
import { subsetImages, type LabelledImages } from '../../datasets/images.ts';
import { applyCondition, selectClasses, transferSplit, type ConditionFlags } from '../../datasets/conditions.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import { MODEL_FILE } from '../train/checkpoint.ts';
import { referenceSettings, settingsHash, type StudyPreset, type StudyRun } from './plan.ts';

export interface EvalPoint { images: number; seconds: number; step: number; accuracy: number }

export interface RunResult {
  id: string;
  condition: string;
  arm: string;
  selector: string;
  keep: number;
  seed: number;
  settings: Record<string, unknown>;
  classes: number;
  finalAccuracy: number;
  balancedAccuracy: number;
  /** Partial evaluations on the first evalSubset test images, then the final one on the whole test split. */
  evals: EvalPoint[];
  steps: number;
  imagesTrained: number;
  imagesForwarded: number;
  trainSeconds: number;
  selectionSeconds: number;
  /** Means over selection steps of the per-step diagnostics (classes covered, Fiedler localisation, ...). */
  diagnostics: Record<string, number>;
  /** Share of the kept samples that the condition perturbed, and that share among the candidates. */
  keptFlagged: Record<string, { kept: number; candidates: number }>;
  finishedAt: string;
}

export const RESULT_FILE = 'result.json';

export function runDir(out: string, id: string): string {
  return join(out, 'runs', id);
}

export function readResult(out: string, id: string): RunResult | null {
  const file = join(runDir(out, id), RESULT_FILE);
  if (!existsSync(file)) return null;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as RunResult;
  } catch (e) {
    throw new Error(`${file}: unreadable run result (${(e as Error).message}); delete the file to run it again`);
  }
}

interface ConditionData {
  learner: LoadedTrainData;
  reference: LoadedTrainData;
  flags: ConditionFlags;
  description: string;
}

/** The learner's and the reference's data under `condition`; the test split is restricted like the classes. */
export function conditionData(preset: StudyPreset, condition: string, seed: number, loaded = loadTrainData(preset.dataset, { limit: preset.limit + preset.referenceLimit, testLimit: preset.testLimit })): ConditionData {
  if (loaded.train.count < preset.limit + preset.referenceLimit) {
    throw new Error(`study ${preset.name}: ${preset.dataset} has ${loaded.train.count} training images; the preset needs ${preset.limit} + ${preset.referenceLimit} (learner + reference)`);
  }
  const learnerImages = subsetImages(loaded.train, 0, preset.limit);
  const referenceImages = subsetImages(loaded.train, preset.limit, preset.referenceLimit);
  if (condition === 'transfer') {
    // The reference learns one half of the classes, the learner the other: features that transfer, losses that don't.
    const split = transferSplit(loaded.train.classes.length);
    const restrict = (images: LabelledImages, classes: number[]) => selectClasses(images, classes).images;
    return {
      learner: { ...loaded, train: restrict(learnerImages, split.learner), test: restrict(loaded.test, split.learner) },
      reference: { ...loaded, train: restrict(referenceImages, split.reference), test: restrict(loaded.test, split.reference) },
      flags: {}, description: `transfer: reference on classes ${split.reference.join(',')}, learner on ${split.learner.join(',')}`,
    };
  }
  const learner = applyCondition(learnerImages, condition, seed);
  // The reference sees the same kind of data (its own draw): a held-out set is rarely cleaner than the rest.
  const reference = applyCondition(referenceImages, condition, 1_000_003);
  return { learner: { ...loaded, train: learner.images }, reference: { ...loaded, train: reference.images }, flags: learner.flags, description: learner.description };
}

function baseConfig(preset: StudyPreset, data: LoadedTrainData, seed: number, epochs: number): TrainConfig {
  return trainConfig({
    model: { stem: preset.stem, width: preset.width, inChannels: data.train.channels, classes: data.train.classes.length },
    epochs, batchSize: preset.batchSize, lr: preset.lr, seed, mean: data.mean, std: data.std, augment: data.augment,
  });
}

function onecycle(preset: StudyPreset, totalSteps: number) {
  return makeSchedule('onecycle', { lr: preset.lr, totalSteps, warmupSteps: 0, stepSize: Math.max(1, Math.floor(totalSteps / 3)) });
}

/** The condition's reference model: trained once into `<out>/references/<hash>/`, then reused by every run. */
export async function ensureReference(rt: Runtime, preset: StudyPreset, condition: string, out: string, data: ConditionData, log: (line: string) => void): Promise<string> {
  const dir = join(out, 'references', settingsHash(referenceSettings(preset, condition)));
  if (existsSync(join(dir, MODEL_FILE))) return dir;
  // Trained aside and renamed into place: a concurrent run of the same study either sees the whole reference
  // or trains its own copy, never half of one.
  const temp = `${dir}.tmp-${process.pid}`;
  rmSync(temp, { recursive: true, force: true });
  const config = baseConfig(preset, data.reference, 1000, preset.referenceEpochs);
  log(`training the ${condition} reference on ${data.reference.train.count} held-out images (${preset.referenceEpochs} epochs)`);
  const trainer = new Trainer(rt, config, data.reference, temp, {
    log: () => {}, metrics: () => {}, schedule: onecycle(preset, preset.referenceEpochs * batchesPerEpoch(data.reference.train.count, preset.batchSize)),
  });
  try {
    const summary = await trainer.run();
    writeFileAtomic(join(temp, 'reference.json'), `${JSON.stringify({ condition, settings: referenceSettings(preset, condition), testAccuracy: summary.finalEval?.accuracy }, null, 2)}\n`);
    log(`${condition} reference: ${(100 * (summary.finalEval?.accuracy ?? NaN)).toFixed(2)}% test accuracy`);
  } finally {
    trainer.dispose();
  }
  mkdirSync(join(out, 'references'), { recursive: true });
  try {
    renameSync(temp, dir);
  } catch (e) {
    if (!existsSync(join(dir, MODEL_FILE))) throw e;
    rmSync(temp, { recursive: true, force: true });
  }
  return dir;
}

/** Runs one study run (skipped when its result exists) and returns its result. */
export async function runStudyRun(rt: Runtime, preset: StudyPreset, run: StudyRun, out: string, log: (line: string) => void, progress?: ConstructorParameters<typeof Trainer>[4]['progress']): Promise<RunResult> {
  const done = readResult(out, run.id);
  if (done) return done;
  const data = conditionData(preset, run.condition, run.seed);
  const selector = run.arm.selector === 'none' ? null : createSelector(run.arm.selector, run.arm.options);
  const needs = selector?.needs ?? {};
  const reference = needs.referenceLoss || needs.features === 'reference' ? await ensureReference(rt, preset, run.condition, out, data, log) : undefined;

  const config = baseConfig(preset, data.learner, run.seed, preset.epochs);
  const plannedSteps = preset.epochs * batchesPerEpoch(data.learner.train.count, preset.batchSize);
  let steps = plannedSteps;
  let budget: { images: number } | undefined;
  if (run.arm.control === 'images') {
    // The images a selector at this keep ratio back-propagates, with the LR schedule over the steps they take.
    const kept = Math.min(preset.batchSize, Math.max(2, Math.round(run.keep * preset.batchSize)));
    budget = { images: kept * plannedSteps };
    steps = Math.ceil(budget.images / preset.batchSize);
  }
  if (selector) {
    config.selection = {
      selector: run.arm.selector, options: run.arm.options, keep: run.keep, reference,
      warmupSteps: run.arm.warmupSteps, rampSteps: run.arm.rampSteps,
      // One feature cache per condition and seed, beside the reference (the data differ by seed).
      featureCache: reference ? join(reference, `features-seed${run.seed}.bin`) : undefined,
    };
  }
  const dir = runDir(out, run.id);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileAtomic(join(dir, 'settings.json'), `${JSON.stringify({ id: run.id, arm: run.arm, condition: run.condition, keep: run.keep, seed: run.seed, settings: run.settings, data: data.description }, null, 2)}\n`);
  const metrics = new MetricsWriter(join(dir, 'metrics.jsonl'));
  const evals: EvalPoint[] = [];
  const sums: Record<string, number> = {};
  let selectionSteps = 0, selectionSeconds = 0, imagesForwarded = 0;
  const flagged = Object.fromEntries(Object.keys(data.flags).map((k) => [k, { kept: 0, candidates: 0, keptTotal: 0, candidatesTotal: 0 }]));
  const trainer = new Trainer(rt, config, data.learner, join(dir, 'checkpoint'), {
    log: () => {}, progress, schedule: onecycle(preset, steps), budget, evalEvery: preset.evalEvery, evalSubset: preset.evalSubset,
    metrics: (record) => {
      metrics.write(record);
      if (record.kind === 'step') {
        imagesForwarded += record.forwarded as number;
        selectionSeconds += record.selectionSeconds as number;
        if (record.keptClasses !== undefined) {
          selectionSteps++;
          for (const key of ['keptClasses', 'batchClasses', 'keptEntropy', 'batchEntropy', 'fiedlerIpr', 'staleAge']) {
            if (typeof record[key] === 'number') sums[key] = (sums[key] ?? 0) + (record[key] as number);
          }
          for (const [key, ms] of Object.entries((record.selectionMs ?? {}) as Record<string, number>)) {
            if (typeof ms === 'number') sums[`ms.${key}`] = (sums[`ms.${key}`] ?? 0) + ms;
          }
        }
      } else if (record.kind === 'eval' && record.partial) {
        evals.push({ images: record.imagesTrained as number, seconds: record.trainSeconds as number, step: record.step as number, accuracy: record.accuracy as number });
      }
    },
    onKept: (kept, candidates) => {
      for (const [key, marks] of Object.entries(data.flags) as [string, Uint8Array][]) {
        const f = flagged[key];
        for (let k = 0; k < kept.length; k++) f.kept += marks[kept[k]];
        for (let k = 0; k < candidates.length; k++) f.candidates += marks[candidates[k]];
        f.keptTotal += kept.length;
        f.candidatesTotal += candidates.length;
      }
    },
  });
  trainer.runInfo = { study: preset.name, run: run.id };
  try {
    const summary = await trainer.run();
    const final = await trainer.evaluate(data.learner.test, { perClass: true });
    evals.push({ images: summary.imagesTrained, seconds: summary.trainSeconds, step: summary.steps, accuracy: final.accuracy });
    const diagnostics = Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, v / Math.max(1, selectionSteps)]));
    const result: RunResult = {
      id: run.id, condition: run.condition, arm: run.arm.label, selector: run.arm.selector, keep: run.keep, seed: run.seed, settings: run.settings, classes: config.model.classes,
      finalAccuracy: final.accuracy, balancedAccuracy: final.balancedAccuracy ?? final.accuracy, evals, steps: summary.steps,
      imagesTrained: summary.imagesTrained, imagesForwarded, trainSeconds: summary.trainSeconds, selectionSeconds, diagnostics,
      keptFlagged: Object.fromEntries(Object.entries(flagged).map(([k, f]) => [k, { kept: f.kept / Math.max(1, f.keptTotal), candidates: f.candidates / Math.max(1, f.candidatesTotal) }])),
      finishedAt: new Date().toISOString(),
    };
    // The checkpoint served the run (resume after a crash is by rerunning it); the study keeps the numbers.
    rmSync(join(dir, 'checkpoint'), { recursive: true, force: true });
    writeFileAtomic(join(dir, RESULT_FILE), `${JSON.stringify(result, null, 2)}\n`);
    return result;
  } finally {
    metrics.close();
    trainer.dispose();
  }
}
