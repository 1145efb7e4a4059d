// `saln train`: ResNet-18 on a dataset from one command; checkpoints, metrics.jsonl and summary.json in --out.
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse, UsageError } from '../util/args.ts';
import { getRuntime } from '../gpu/runtime.ts';
import { tuneMatmul } from '../ops/tuning.ts';
import { SCHEDULE_NAMES } from '../train/schedule.ts';
import { Trainer, type TrainConfig } from '../train/trainer.ts';
import { DATASETS } from '../../datasets/registry.ts';
import { applyData, configFromFlags, loadDataFromFlags, numberFlag, RUN_OPTIONS, scheduleFor, SELECTION_SCHEDULE_HELP, terminalReporting } from './run-options.ts';
import { subsetImages } from '../../datasets/images.ts';
import { readSafetensors } from '../train/safetensors.ts';
import { recoverCheckpoint, TRAINER_FILE } from '../train/checkpoint.ts';
import { MetricsWriter } from '../train/metrics.ts';
import { parseFault } from '../train/faults.ts';
import { acquireRunLock, LOCK_FILE, type RunLock } from '../train/lock.ts';
import { parseSavedRun, parseTrainerMetadata } from '../train/checkpoint-state.ts';
import { checkOutputDir } from './output-dir.ts';
import { REPORT_FILE, writeTrainReport } from '../report/html.ts';
import { isDiskFull } from '../util/disk-full.ts';

const HELP = `usage: saln train [options]

Trains ResNet-18 and writes into --out: model.safetensors (torchvision names, loads with
resnet18().load_state_dict), trainer.safetensors (optimizer state, for --resume), metrics.jsonl (one JSON
object per step and per evaluation), summary.json and report.html (one self-contained page: summary, charts,
weights, settings). Ctrl-C or SIGTERM saves a checkpoint at the step boundary before exiting.

data
  --dataset NAME          ${DATASETS.join(' | ')} (default fashion-mnist)
  --data-dir DIR          where the dataset lives (default: its standard place)
  --limit N               train on the first N training samples
  --image-size N          side of the images decoded from JPEG/PNG sets (oxford-pets 224, folder 64)
  --skip-bad              skip unreadable images with a warning (counted in the summary) instead of stopping
  --test-limit N          evaluate on the first N test samples (default: the whole test split)
model
  --model resnet18        the architecture (only ResNet-18 for now)
  --stem imagenet|cifar   7x7/2 conv + max-pool, or 3x3/1 conv without pool (default imagenet)
  --width W               channel multiplier on 64-128-256-512 (default 1)
  --pretrained FILE       torchvision ImageNet weights in safetensors (fc replaced, 1-channel stem adapted)
optimisation
  --epochs N              (default 1)
  --batch-size N          (default 64)
  --optimizer sgd|adamw   (default adamw; sgd uses momentum 0.9, Nesterov)
  --lr X                  peak learning rate (default 0.002 for adamw, 0.05 for sgd)
  --schedule NAME         ${SCHEDULE_NAMES.join(' | ')} (default onecycle)
  --warmup-steps N        for cosine (default 0)
  --momentum X            (default 0.9)      --no-nesterov
  --weight-decay X        (default 5e-4 for sgd, 0.01 for adamw; not on batch-norm or biases)
  --label-smoothing X     (default 0)
  --clip-norm X           clip the gradient's global norm (default: off)
  --augment LIST          comma list of flip, crop, rotate, jitter, or none (default: the dataset's)
batch selection
  --selector NAME         none | random | loss | rho | jest | saln (default none: every sample)
  --keep R                fraction of each batch back-propagated (default 0.5 with a selector)
  --keep-end R            move the fraction linearly from --keep to R over training (a pre-scheduled filter)
  --selector-option K=V   a selector option, repeatable (e.g. rule=balanced, affinity=clip, chunks=16)
  --reference DIR         reference model checkpoint: jest, rho, and saln (its default reads the reference's
                          features and losses; saln train --holdout N --train-on-holdout makes one)
${SELECTION_SCHEDULE_HELP}
  --holdout N             hold the last N training samples out: the run never sees them ...
  --train-on-holdout      ... or trains only on them (a reference model the learner's data never trained)
run
  --seed N                every random choice follows it (default 0)
  --out DIR               (default runs/<dataset>)
  --resume DIR            continue a run exactly where it stopped (settings come from its checkpoint)
  --eval-batch-size N     (default 256)
  --checkpoint-every N    also save a checkpoint every N steps (default 200; 0: at epoch ends only)
  --profile               print the time per kernel of step 3 (timestamp queries, else fenced wall time), its dispatches and peak memory
testing
  --inject KIND[:TARGET]@STEP  inject a fault: nan-loss, nan-activation:MODULE, inf-gradient:PARAMETER, device-lost
`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parse('train', argv, { ...RUN_OPTIONS, holdout: { type: 'string' }, 'train-on-holdout': { type: 'boolean' } });
  if (values.help) { process.stdout.write(HELP); return 0; }
  if (values.model !== 'resnet18') throw new UsageError(`train: --model ${values.model} is not available; resnet18 is`);

  let config: TrainConfig;
  let datasetName = values.dataset!;
  let limit = values.limit !== undefined ? numberFlag('train', 'limit', values.limit, 'positiveInteger') : undefined;
  let scheduleName = values.schedule!;
  let warmupSteps = numberFlag('train', 'warmup-steps', values['warmup-steps'], 'nonNegative');
  let holdout = values.holdout !== undefined ? numberFlag('train', 'holdout', values.holdout, 'positiveInteger') : undefined;
  let trainOnHoldout = Boolean(values['train-on-holdout']);
  if (trainOnHoldout && holdout === undefined) throw new UsageError('train: --train-on-holdout needs --holdout N (how many samples at the end of the training split)');
  let resumedStep: number | undefined;
  const locks: RunLock[] = [];
  if (values.resume) {
    // The checkpoint's own settings: a resumed run must be the same run.
    const file = join(values.resume, TRAINER_FILE);
    if (!existsSync(file)) throw new UsageError(`train: --resume ${values.resume} has no ${TRAINER_FILE}; pass the --out directory of an earlier run`);
    locks.push(acquireRunLock(resolve(values.resume)));
    recoverCheckpoint(values.resume);
    const state = parseTrainerMetadata(readSafetensors(file).metadata, file);
    const saved = parseSavedRun(state.extra, file);
    resumedStep = state.step;
    config = saved.config;
    datasetName = saved.dataset;
    limit = saved.limit;
    scheduleName = saved.schedule;
    warmupSteps = saved.warmupSteps;
    holdout = typeof state.extra.holdout === 'number' ? state.extra.holdout : undefined;
    trainOnHoldout = state.extra.trainOnHoldout === true;
    if (argv.includes('--epochs')) config.epochs = numberFlag('train', 'epochs', values.epochs, 'positiveInteger');
  } else {
    config = configFromFlags('train', values);
  }
  const out = resolve(values.out ?? values.resume ?? join('runs', datasetName));
  checkOutputDir('train', out);
  // Before the data is read: a second run on the same directory stops at once.
  if (!locks.some((l) => l.path === join(out, LOCK_FILE))) locks.push(acquireRunLock(out));
  const loaded = loadDataFromFlags(datasetName, values, limit, Boolean(values.resume));
  if (holdout !== undefined && holdout >= loaded.train.count) throw new UsageError(`train: --holdout ${holdout} leaves nothing of the ${loaded.train.count} training samples`);
  // The last samples, so that the learner's first N (--limit) and the held-out part never overlap.
  const kept = holdout === undefined ? loaded.train
    : trainOnHoldout ? subsetImages(loaded.train, loaded.train.count - holdout, holdout) : subsetImages(loaded.train, 0, loaded.train.count - holdout);
  const data = { ...loaded, train: kept };
  if (!values.resume) applyData(config, data);

  const schedule = scheduleFor(scheduleName, config, data.train.count, warmupSteps);
  const inject = values.inject === undefined ? undefined : (() => {
    try { return parseFault(values.inject!); } catch (e) { throw new UsageError(`train: ${(e as Error).message}`); }
  })();

  const rt = await getRuntime({ adapter: values.adapter });
  const { log, progress } = terminalReporting();
  await tuneMatmul(rt, { log });
  const metrics = new MetricsWriter(join(out, 'metrics.jsonl'), { resume: Boolean(values.resume), resumeAt: resumedStep });
  const trainer = new Trainer(rt, config, data, out, {
    log,
    metrics: (record) => metrics.write(record),
    progress,
    schedule,
    inject,
    checkpointEvery: numberFlag('train', 'checkpoint-every', values['checkpoint-every'], 'nonNegative'),
    // Step 3: the first two compile every pipeline, which would dominate a profile of them.
    profileStep: values.profile ? 3 : undefined,
    onProfile: (kernels, peak) => {
      const total = kernels.reduce((t, k) => t + k.seconds, 0);
      log(`profile of step 3 (${rt.profileMethod}): ${kernels.reduce((t, k) => t + k.dispatches, 0)} dispatches, ${(total * 1000).toFixed(0)} ms of kernel time, peak pool ${(peak / 2 ** 20).toFixed(1)} MiB`);
      for (const k of kernels.slice(0, 15)) log(`  ${k.kernel.padEnd(46)} ${String(k.dispatches).padStart(5)} x ${(k.seconds * 1000).toFixed(1).padStart(8)} ms ${(100 * k.seconds / total).toFixed(1).padStart(6)}%`);
      metrics.write({ kind: 'profile', step: 3, method: rt.profileMethod, kernels, peakPoolBytes: peak });
    },
  });
  // The trainer's state also records what the CLI needs to rebuild the run on --resume.
  trainer.runInfo = { limit, schedule: scheduleName, warmupSteps, holdout, trainOnHoldout, ...inputInfo(data.train) };
  if (values.resume) {
    trainer.resume(values.resume);
    log(`resuming ${values.resume} at step ${trainer.step} (epoch ${trainer.epoch + 1}, batch ${trainer.batchInEpoch})`);
  } else if (values.pretrained) {
    for (const note of trainer.loadPretrained(values.pretrained)) log(note);
  }
  // SIGTERM is what kill, systemd and container runtimes send: the same checkpoint at the step boundary as Ctrl-C.
  let interrupts = 0, stoppedBy = 'SIGINT' as NodeJS.Signals;
  const onSignal = (signal: NodeJS.Signals) => {
    stoppedBy = signal;
    if (++interrupts > 1) process.exit(signal === 'SIGTERM' ? 143 : 130);
    log(`interrupted (${signal}): finishing this step and saving a checkpoint (${signal === 'SIGTERM' ? 'SIGTERM' : 'Ctrl-C'} again to quit at once)`);
    trainer.requestStop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const summary = await trainer.run().catch((e) => {
      // A checkpoint that could not be written leaves the previous one whole: say which one --resume continues from.
      if (isDiskFull(e?.cause ?? e) || /the disk (is full|quota)/.test(String(e?.message))) {
        e.message += trainer.lastCheckpoint === null ? '; no earlier checkpoint exists in this run' : `; the checkpoint of step ${trainer.lastCheckpoint} in ${out} is whole: 'saln train --resume ${out}' continues from it`;
      }
      throw e;
    });
    const record = { dataset: datasetName, out, ...summary, skippedImages: data.skipped, config };
    writeFileSync(join(out, 'summary.json'), `${JSON.stringify(record, null, 2)}\n`);
    log(`done: ${summary.steps} steps, ${summary.imagesTrained} images in ${summary.seconds.toFixed(1)} s (${summary.imagesPerSecond.toFixed(1)} images/s)${summary.finalEval ? `, test accuracy ${(100 * summary.finalEval.accuracy).toFixed(2)}%` : ''}`);
    // The page is a view of the files above: a failure to draw it costs the run nothing.
    await writeTrainReport(out).catch((e) => log(`warning: ${REPORT_FILE} not written (${(e as Error).message})`));
    log(`outputs: ${out}/{model.safetensors, trainer.safetensors, metrics.jsonl, summary.json, ${REPORT_FILE}}`);
    process.stdout.write(`${JSON.stringify({ out, steps: summary.steps, seconds: summary.seconds, imagesPerSecond: summary.imagesPerSecond, testAccuracy: summary.finalEval?.accuracy ?? null, stoppedEarly: summary.stoppedEarly })}\n`);
    return summary.stoppedEarly ? (stoppedBy === 'SIGTERM' ? 143 : 130) : 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    metrics.close();
    trainer.dispose();
    for (const lock of locks) lock.release();
  }
}

/** What `saln eval` and `saln predict` need to feed new images as these were fed: their size and class names. */
export function inputInfo(train: { height: number; width: number; classes: string[] }): { imageSize: [number, number]; classNames: string[] } {
  return { imageSize: [train.height, train.width], classNames: train.classes };
}
