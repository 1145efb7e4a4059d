// `saln compare`: several selectors on the same data, model, seed and budget; summary.md, summary.json, metrics
// per selector and pictures in --out.
import { existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { settingsHash } from '../util/settings-hash.ts';
import { MODEL_FILE } from '../train/checkpoint.ts';
import { join, resolve } from 'node:path';
import { subsetImages } from '../../datasets/images.ts';
import { parse, UsageError } from '../util/args.ts';
import { getRuntime } from '../gpu/runtime.ts';
import { tuneMatmul } from '../ops/tuning.ts';
import { Trainer } from '../train/trainer.ts';
import { compareSelectors } from '../train/compare.ts';
import { REPORT_FILE, writeCompareReport } from '../report/html.ts';
import { checkOutputDir } from './output-dir.ts';
import { acquireRunLock } from '../train/lock.ts';
import { createSelector, SELECTOR_NAMES } from '../select/registry.ts';
import { applyData, configFromFlags, keepFlag, loadDataFromFlags, numberFlag, parseSelectorOptions, RUN_OPTIONS, scheduleFor, selectionSchedule, SELECTION_SCHEDULE_HELP, terminalReporting } from './run-options.ts';

const HELP = `usage: saln compare [options]

Trains one model per selector on the same data, initialisation, seed, schedule and budget, one after another,
and writes into --out: summary.md and summary.json (per selector: final and best test accuracy, training
seconds, images back-propagated, images forwarded, seconds to --target accuracy, selection time per step and
its share of the step), metrics-<selector>.jsonl, and pictures/ (accuracy against training seconds and against
images back-propagated, loss against steps, kept/dropped grids of a few super-batches, SALN's Fiedler vector and
sorted similarity matrix, weight histograms after training).

  --selectors LIST        comma list of ${SELECTOR_NAMES.join(', ')} (default none,random,saln)
  --keep R                fraction of each batch back-propagated by the selectors (default 0.5)
  --keep-end R            move the fraction linearly from --keep to R over training
  --selector-option S:K=V an option for one selector, repeatable (e.g. saln:rule=balanced, jest:chunks=8)
  --budget-images N       stop each run after N images back-propagated (default: the epochs)
  --budget-seconds S      stop each run after S seconds of training
  --eval-every N          evaluate every N steps on --eval-subset test images (default 25; 0: epochs only)
  --eval-subset N         (default 1000)
  --target A              test accuracy for the time-to-accuracy column (default 0.8)
  --grids N               super-batches drawn per selector (default 2)
${SELECTION_SCHEDULE_HELP}
  --reference DIR         reference model for jest, rho and saln's reference features; without it one is
                          trained first (1 epoch) on
                          --reference-limit training images that follow the --limit ones (default 5000)
plus the data, model and optimisation flags of 'saln train' (--dataset, --limit, --epochs, --batch-size, --lr, ...).
`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parse('compare', argv, {
    ...RUN_OPTIONS,
    selectors: { type: 'string', default: 'none,random,saln' }, 'budget-images': { type: 'string' }, 'budget-seconds': { type: 'string' },
    'eval-every': { type: 'string', default: '25' }, 'eval-subset': { type: 'string', default: '1000' }, target: { type: 'string', default: '0.8' },
    grids: { type: 'string', default: '2' }, 'reference-limit': { type: 'string', default: '5000' },
  });
  if (values.help) { process.stdout.write(HELP); return 0; }
  const names = values.selectors!.split(',').map((s) => s.trim()).filter(Boolean);
  for (const name of names) if (!(SELECTOR_NAMES as readonly string[]).includes(name)) throw new UsageError(`compare: unknown selector '${name}'; choose from ${SELECTOR_NAMES.join(', ')}`);
  if (names.length === 0) throw new UsageError('compare: --selectors is empty');
  const perSelector = new Map<string, Record<string, unknown>>();
  for (const item of values['selector-option'] ?? []) {
    const at = item.indexOf(':');
    if (at <= 0) throw new UsageError(`compare: --selector-option takes SELECTOR:KEY=VALUE, got '${item}'`);
    const name = item.slice(0, at);
    if (!names.includes(name)) throw new UsageError(`compare: --selector-option ${item} names '${name}', which is not among --selectors ${names.join(',')}`);
    perSelector.set(name, { ...perSelector.get(name), ...parseSelectorOptions([item.slice(at + 1)]) });
  }
  const selectors = names.map((name) => {
    const options = perSelector.get(name) ?? {};
    try {
      createSelector(name, options); // fail on bad options before any training
    } catch (e) {
      throw new UsageError(`compare: --selector-option ${name}: ${(e as Error).message}`);
    }
    return { name, options };
  });
  if (values.selector !== 'none') throw new UsageError(`compare: --selector is for 'saln train'; give the selectors to compare with --selectors LIST`);
  // Every flag is checked before any data is read or the GPU is touched.
  const number = (flag: string, text: string | undefined, rule: Parameters<typeof numberFlag>[3]) => numberFlag('compare', flag, text, rule);
  const keep = keepFlag('compare', 'keep', values.keep)!;
  const keepEnd = keepFlag('compare', 'keep-end', values['keep-end']);
  const budget = {
    images: values['budget-images'] !== undefined ? number('budget-images', values['budget-images'], 'positiveInteger') : undefined,
    seconds: values['budget-seconds'] !== undefined ? number('budget-seconds', values['budget-seconds'], 'positive') : undefined,
  };
  const target = number('target', values.target, 'fraction');
  const limit = values.limit !== undefined ? number('limit', values.limit, 'positiveInteger') : undefined;
  // Asked of every selector before any run starts: a reference found missing after the first run has spent its
  // minutes would waste them.
  const referenceUsers = selectors.filter(({ name, options }) => { const needs = createSelector(name, options).needs; return needs.referenceLoss || needs.features === 'reference'; }).map(({ name }) => name);
  const needsReference = referenceUsers.length > 0 && !values.reference;
  const referenceCount = number('reference-limit', values['reference-limit'], 'positiveInteger');
  const warmupSteps = number('warmup-steps', values['warmup-steps'], 'nonNegativeInteger');
  const evalEvery = number('eval-every', values['eval-every'], 'nonNegativeInteger');
  const evalSubset = number('eval-subset', values['eval-subset'], 'positiveInteger');
  const grids = number('grids', values.grids, 'nonNegativeInteger');

  const config = configFromFlags('compare', { ...values, selector: 'none' });
  // The output directory before any data is read: a file or a read-only place stops here, not after the runs.
  const out = resolve(values.out ?? join('runs', `compare-${values.dataset}`));
  checkOutputDir('compare', out);
  if (needsReference && limit === undefined) throw new UsageError(`compare: ${referenceUsers.join(', ')} ${referenceUsers.length === 1 ? 'needs' : 'need'} a reference model: pass --reference DIR, or --limit N so that the images after the first N train one`);
  const loaded = loadDataFromFlags(values.dataset!, values, needsReference && limit !== undefined ? limit + referenceCount : limit, false, 'compare');
  if (needsReference && loaded.train.count <= limit!) throw new UsageError(`compare: ${referenceUsers.join(', ')} ${referenceUsers.length === 1 ? 'needs' : 'need'} a reference model, trained on the images after the first --limit ${limit}, but the training split has only ${loaded.train.count}; pass --reference DIR or a smaller --limit`);
  // The reference model learns from the images after the compared runs' --limit: held out from them.
  const data = needsReference && limit !== undefined ? { ...loaded, train: subsetImages(loaded.train, 0, limit) } : loaded;
  applyData(config, data);

  // Before the GPU or any output: a second compare (or train) on this directory stops here.
  const lock = acquireRunLock(out);
  try {
    const rt = await getRuntime({ adapter: values.adapter });
    const { log, progress } = terminalReporting();
    await tuneMatmul(rt, { log });
    const schedule = scheduleFor(values.schedule!, config, data.train.count, warmupSteps);

    let reference = values.reference;
    if (needsReference) {
      const held = { ...loaded, train: subsetImages(loaded.train, limit!, loaded.train.count - limit!) };
      const referenceConfig = { ...config, epochs: 1 };
      // Named by its settings: a later compare with the same data, model and optimisation reuses it.
      reference = join(out, `reference-${settingsHash({ dataset: data.name, limit, held: held.train.count, config: referenceConfig, schedule: values.schedule, warmupSteps })}`);
      if (existsSync(join(reference, MODEL_FILE))) {
        log(`reusing the reference model in ${reference}`);
      } else {
        log(`training the reference model on ${held.train.count} held-out images (1 epoch) into ${reference}`);
        const temp = `${reference}.tmp-${process.pid}`;
        const trainer = new Trainer(rt, referenceConfig, held, temp, { log, progress, metrics: () => {}, schedule: scheduleFor(values.schedule!, referenceConfig, held.train.count, warmupSteps) });
        try { await trainer.run(); } finally { trainer.dispose(); }
        rmSync(reference, { recursive: true, force: true });
        renameSync(temp, reference);
      }
    }

    await compareSelectors(rt, config, data, out, {
      selectors, keep, keepEnd, reference, selectionSettings: selectionSchedule('compare', values), budget: budget.images || budget.seconds ? budget : undefined, evalEvery, evalSubset, target, grids,
    }, log, progress, schedule);
    process.stdout.write(`${readFileSync(join(out, 'summary.md'), 'utf8')}\n`);
    await writeCompareReport(out).catch((e) => log(`warning: ${REPORT_FILE} not written (${(e as Error).message})`));
    process.stderr.write(`outputs: ${out}/{summary.md, summary.json, ${REPORT_FILE}, metrics-<selector>.jsonl, pictures/}\n`);
    return 0;
  } finally {
    lock.release();
  }
}
