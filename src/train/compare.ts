// Several selectors on the same data, model, seed and budget, one after another: the numbers and pictures that
// decide the defaults (and whether SALN beats a random subset).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Runtime } from '../gpu/runtime.ts';
import { Trainer, type SelectionConfig, type SelectionInfo, type TrainConfig, type TrainerHooks } from './trainer.ts';
import type { LoadedTrainData } from '../../datasets/registry.ts';
import { MetricsWriter } from './metrics.ts';
import { accuracyChart, fiedlerChart, lossChart, weightHistograms } from '../report/charts.ts';
import { selectionGrid, similarityImage } from '../report/images.ts';
import { summaryMarkdown, type SummaryRow } from '../report/markdown.ts';

export interface CompareOptions {
  selectors: { name: string; options: Record<string, unknown> }[];
  keep: number;
  keepEnd?: number;
  reference?: string;
  /** Warm-up, ramp, scoring statistics and reference scores, the same for every selector. */
  selectionSettings?: Pick<SelectionConfig, 'warmupSteps' | 'rampSteps' | 'scoringStats' | 'referenceScores' | 'featureCache'>;
  budget?: { images?: number; seconds?: number };
  evalEvery: number;
  evalSubset: number;
  /** Test accuracy whose first crossing (in training seconds) is the time-to-accuracy column. */
  target: number;
  /** Super-batches per selector drawn as kept/dropped grids. */
  grids: number;
}

export interface CompareRow extends SummaryRow {
  steps: number;
}

interface Curves {
  evals: { seconds: number; images: number; accuracy: number }[];
  losses: { step: number; loss: number }[];
}

/** Runs every selector and writes summary.json, summary.md, metrics-<selector>.jsonl and the pictures into `out`. */
export async function compareSelectors(rt: Runtime, base: TrainConfig, data: LoadedTrainData, out: string, options: CompareOptions, log: (line: string) => void, progress?: TrainerHooks['progress'], schedule?: TrainerHooks['schedule']): Promise<CompareRow[]> {
  mkdirSync(join(out, 'pictures'), { recursive: true });
  const rows: CompareRow[] = [];
  const curves = new Map<string, Curves>();
  for (const { name, options: selectorOptions } of options.selectors) {
    log(`--- ${name} ---`);
    const config: TrainConfig = { ...base, selection: name === 'none' ? undefined : { selector: name, options: selectorOptions, keep: options.keep, keepEnd: options.keepEnd, reference: options.reference, ...options.selectionSettings } };
    const metrics = new MetricsWriter(join(out, `metrics-${name}.jsonl`));
    const curve: Curves = { evals: [], losses: [] };
    let selectionSeconds = 0, stepSeconds = 0, steps = 0, forwardPasses = 0, grids = 0;
    const onSelection = async (info: SelectionInfo) => {
      if (grids >= options.grids) return;
      grids++;
      const prefix = join(out, 'pictures', `${name}-step${info.step}`);
      selectionGrid(`${prefix}-grid.png`, { height: info.shape.h, width: info.shape.w, channels: info.shape.c as 1 | 3, pixels: info.bytes }, info.result.indices);
      const fiedler = info.result.details?.fiedler as Float32Array | undefined;
      if (fiedler && grids === 1) {
        await fiedlerChart(`${prefix}-fiedler.svg`, fiedler, info.result.indices);
        if (info.features) {
          const [B, F] = info.features.shape;
          const f = await info.features.download() as Float32Array;
          const order = Array.from({ length: B }, (_, i) => i).sort((a, b) => fiedler[a] - fiedler[b] || a - b);
          similarityImage(`${prefix}-similarity.png`, cosineSimilarity(f, B, F), order);
        }
      }
    };
    const trainer = new Trainer(rt, config, data, join(out, 'runs', name), {
      log, progress, schedule, budget: options.budget, evalEvery: options.evalEvery, evalSubset: options.evalSubset, onSelection,
      metrics: (record) => {
        metrics.write({ selector: name, ...record });
        if (record.kind === 'step') {
          steps++;
          selectionSeconds += record.selectionSeconds as number;
          stepSeconds += record.stepSeconds as number;
          forwardPasses += record.forwarded as number;
          curve.losses.push({ step: record.step as number, loss: record.loss as number });
        } else if (record.kind === 'eval') {
          curve.evals.push({ seconds: record.trainSeconds as number, images: record.imagesTrained as number, accuracy: record.accuracy as number });
        }
      },
    });
    // What `saln eval` and `saln predict` read to feed new images to this run's model as its training images were fed.
    trainer.runInfo = { imageSize: [data.train.height, data.train.width], classNames: data.train.classes };
    try {
      const summary = await trainer.run();
      const layers = [...(await trainer.net.store.download())].filter(([, t]) => t.spec.kind === 'parameter' && t.spec.shape.length >= 2).map(([layer, t]) => ({ name: layer, values: t.data }));
      await weightHistograms(join(out, 'pictures', `${name}-weights.svg`), layers);
      const reached = curve.evals.find((e) => e.accuracy >= options.target);
      rows.push({
        selector: name,
        finalAccuracy: summary.finalEval?.accuracy ?? NaN,
        bestAccuracy: Math.max(...curve.evals.map((e) => e.accuracy)),
        seconds: summary.trainSeconds,
        imagesBackpropagated: summary.imagesTrained,
        forwardPasses,
        secondsToTarget: reached ? reached.seconds : null,
        imagesToTarget: reached ? reached.images : null,
        selectionSecondsPerStep: steps ? selectionSeconds / steps : 0,
        selectionShare: stepSeconds ? selectionSeconds / stepSeconds : 0,
        steps,
      });
    } finally {
      metrics.close();
      trainer.dispose();
    }
    curves.set(name, curve);
  }
  const series = [...curves].map(([selector, c]) => ({ selector, points: c.evals }));
  await accuracyChart(join(out, 'pictures', 'accuracy-vs-seconds.svg'), series, 'seconds');
  await accuracyChart(join(out, 'pictures', 'accuracy-vs-images.svg'), series, 'images');
  await lossChart(join(out, 'pictures', 'loss-vs-steps.svg'), [...curves].map(([selector, c]) => ({ selector, points: c.losses })));
  writeFileSync(join(out, 'summary.json'), `${JSON.stringify({ dataset: data.name, keep: options.keep, target: options.target, budget: options.budget ?? null, config: base, rows }, null, 2)}\n`);
  writeFileSync(join(out, 'summary.md'), summaryMarkdown(rows, options.target, `Dataset ${data.name}, ${data.train.count} training images, keep ${options.keep}, seed ${base.seed}.`));
  return rows;
}

/** Cosine similarity of the rows of f [B, F] on the CPU (one super-batch, for a picture). */
function cosineSimilarity(f: Float32Array, B: number, F: number): Float32Array {
  const norms = Array.from({ length: B }, (_, i) => Math.hypot(...f.subarray(i * F, (i + 1) * F)) || 1);
  const s = new Float32Array(B * B);
  for (let i = 0; i < B; i++) for (let j = 0; j < B; j++) {
    let d = 0;
    for (let k = 0; k < F; k++) d += f[i * F + k] * f[j * F + k];
    s[i * B + j] = d / (norms[i] * norms[j]);
  }
  return s;
}
