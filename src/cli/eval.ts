// `saln eval`: a trained model on a test split, with the preprocessing of its run: accuracy, per-class accuracy
// and a confusion matrix (eval.json, confusion.svg and confusion.png).
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse, UsageError } from '../util/args.ts';
import { MODEL_HELP, MODEL_OPTIONS, modelOverrides } from './model-options.ts';
import { loadDataFromFlags, numberFlag } from './run-options.ts';
import { DATASETS } from '../../datasets/registry.ts';
import { getRuntime } from '../gpu/runtime.ts';
import { buildModel, classify, ModelError, readModel } from '../train/inference.ts';
import { confusionChart } from '../report/confusion.ts';
import { writeFileAtomic } from '../util/atomic.ts';

const HELP = `usage: saln eval --model DIR [--dataset NAME] [--data-dir DIR] [options]

Evaluates a trained model on a test split with the preprocessing it was trained with (image size, channels,
normalisation and resize, read from the run's checkpoint): prints test accuracy, loss, balanced accuracy and the
accuracy of each class, and writes eval.json (those figures, the confusion matrix and each test image's
predicted class) and confusion.svg/.png into --out.

  --dataset NAME          ${DATASETS.join(' | ')} (default: the one the run trained on)
  --data-dir DIR          where the dataset lives (default: its standard place)
  --test-limit N          the first N test images (default: the whole test split)
  --out DIR               where eval.json and the confusion matrix go (default: MODEL/eval)
${MODEL_HELP}
  --json                  print eval.json's figures (without the per-image predictions) instead of the table
`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parse('eval', argv, { ...MODEL_OPTIONS, dataset: { type: 'string' }, 'data-dir': { type: 'string' }, 'test-limit': { type: 'string' }, out: { type: 'string' } });
  if (values.help) { process.stdout.write(HELP); return 0; }
  const overrides = modelOverrides('eval', values);
  const batchSize = numberFlag('eval', 'batch-size', values['batch-size'], 'positiveInteger');
  if (values.dataset !== undefined && !(DATASETS as readonly string[]).includes(values.dataset)) throw new UsageError(`eval: unknown dataset '${values.dataset}'; available: ${DATASETS.join(', ')}`);
  const loaded = readModel(values.model!, overrides);
  const pre = loaded.preprocessing;
  const dataset = values.dataset ?? pre.dataset;
  if (!dataset) throw new UsageError(`eval: ${loaded.file} records no data set; pass --dataset NAME`);
  const [height, width] = pre.imageSize;
  if (height !== width && (dataset === 'folder' || dataset === 'oxford-pets')) throw new ModelError(`eval: the model takes ${height}x${width} images; ${dataset} decodes square ones`);
  // The run's --limit: the synthetic set's test split starts after its training images.
  const data = loadDataFromFlags(dataset, { 'data-dir': values['data-dir'], 'test-limit': values['test-limit'], 'image-size': String(height) }, pre.limit, true, 'eval');
  const test = data.test;
  const classes = pre.model.classes;
  if (test.classes.length !== classes) throw new ModelError(`eval: ${dataset} has ${test.classes.length} classes but the model has ${classes}; evaluate it on the data set it was trained for`);
  if (test.channels !== pre.model.inChannels || test.height !== height || test.width !== width) {
    throw new ModelError(`eval: ${dataset} gives ${test.height}x${test.width}x${test.channels} images but the model was trained on ${height}x${width}x${pre.model.inChannels}`);
  }

  const rt = await getRuntime({ adapter: values.adapter });
  const net = buildModel(rt, loaded);
  let probabilities: Float32Array;
  try {
    probabilities = await classify(rt, net, pre, test.images, test.count, batchSize);
  } finally {
    net.store.dispose();
  }
  const matrix = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  const predictions: number[] = [];
  let correct = 0, lossSum = 0;
  for (let i = 0; i < test.count; i++) {
    const row = probabilities.subarray(i * classes, (i + 1) * classes);
    let best = 0;
    for (let k = 1; k < classes; k++) if (row[k] > row[best]) best = k;
    const label = test.labels[i];
    predictions.push(best);
    matrix[label][best]++;
    if (best === label) correct++;
    lossSum -= Math.log(Math.max(row[label], 1e-30));
  }
  const names = pre.classNames;
  const perClass = matrix.map((row, k) => {
    const count = row.reduce((a, b) => a + b, 0);
    return { class: names[k], index: k, correct: row[k], count, accuracy: count ? row[k] / count : null };
  });
  const present = perClass.filter((c) => c.count > 0);
  const result = {
    model: resolve(loaded.file), dataset, count: test.count,
    accuracy: correct / test.count, loss: lossSum / test.count,
    balancedAccuracy: present.reduce((a, c) => a + (c.accuracy ?? 0), 0) / Math.max(1, present.length),
    preprocessing: { origin: pre.origin, imageSize: pre.imageSize, channels: pre.model.inChannels, resize: pre.resize ?? null, mean: pre.mean, std: pre.std },
    perClass, confusion: { classes: names, matrix },
  };
  const out = resolve(values.out ?? join(loaded.file, '..', 'eval'));
  mkdirSync(out, { recursive: true });
  writeFileAtomic(join(out, 'eval.json'), `${JSON.stringify({ ...result, predictions }, null, 2)}\n`);
  await confusionChart(join(out, 'confusion.svg'), matrix, names, `Confusion matrix: ${dataset} test, ${test.count} images, accuracy ${(100 * result.accuracy).toFixed(2)}%`);

  if (values.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } else {
    const width = Math.max(5, ...names.map((n) => n.length));
    const lines = [
      `${dataset} test: ${test.count} images, accuracy ${(100 * result.accuracy).toFixed(2)}%, loss ${result.loss.toFixed(4)}, balanced accuracy ${(100 * result.balancedAccuracy).toFixed(2)}%`,
      `${'class'.padEnd(width)}  accuracy  correct/count`,
      ...perClass.map((c) => `${c.class.padEnd(width)}  ${c.accuracy === null ? '     -  ' : `${(100 * c.accuracy).toFixed(2).padStart(7)}%`}  ${c.correct}/${c.count}`),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  process.stderr.write(`outputs: ${out}/{eval.json, confusion.svg, confusion.png}\n`);
  return 0;
}
