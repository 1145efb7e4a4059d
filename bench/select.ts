// SALN selection time (features on the GPU -> kept indices on the CPU) for super-batches of B = 64 .. 512 at
// F = 512 (ResNet-18's feature width), and the GPU Lanczos solve against the dense CPU Jacobi solver on the same
// Laplacian.
import { UsageError } from '../src/util/errors.ts';
import { Tensor } from '../src/tensor.ts';
import { normalArray, uniformArray } from '../src/rng.ts';
import { SalnSelector, SALN_DEFAULTS } from '../src/select/saln.ts';
import { buildGraph, AFFINITIES, LAPLACIANS, type Affinity, type LaplacianKind } from '../src/ops/graph.ts';
import { lanczos } from '../src/linalg/lanczos.ts';
import { jacobiEigen } from '../src/reference/jacobi.ts';
import type { SuiteContext } from './context.ts';
import { trainingStep } from './step.ts';
import { measure, statsOf, type Stats } from './measure.ts';
import { Tape, Var } from '../src/autograd.ts';
import { createResNet18 } from '../src/nn/resnet.ts';
import { fill, gatherRows } from '../src/ops/fill.ts';
import type { Runtime } from '../src/gpu/runtime.ts';

/**
 * Penultimate-layer-like features: ReLU of a class centre plus noise (10 classes), so similarities are
 * non-negative and clustered as a trained network's are; 'gaussian' is structureless N(0, 1) (cosines near 0,
 * a Laplacian with a crowded low end: Lanczos's hard case).
 */
function syntheticFeatures(B: number, F: number, kind: string, seed: number): Float32Array {
  const noise = normalArray(B * F, seed, 1);
  if (kind === 'gaussian') return Float32Array.from(noise);
  const centres = normalArray(10 * F, seed, 2);
  return Float32Array.from({ length: B * F }, (_, i) => Math.max(0, centres[(Math.floor(i / F) % 10) * F + (i % F)] + 0.8 * noise[i]));
}

export async function run(ctx: SuiteContext): Promise<void> {
  const { rt, report, values, runs } = ctx;
  const jacobiRuns = Number(values['jacobi-runs'] ?? '5'), F = Number(values.features ?? '512'), ratio = Number(values.keep ?? '0.5');
  const sizes = (values.sizes ?? '64,128,256,512').split(',').map(Number);
  const data = values.data ?? 'clustered';
  for (const [flag, v] of [['features', F], ...sizes.map((s) => ['sizes', s] as const)] as const) {
    if (!(Number.isInteger(v) && v > 0)) throw new UsageError(`bench select: --${flag} must be positive integers`);
  }
  if (!(Number.isInteger(jacobiRuns) && jacobiRuns >= 0)) throw new UsageError('bench select: --jacobi-runs must be a non-negative integer (0 skips Jacobi)');
  if (!(ratio > 0 && ratio <= 1)) throw new UsageError(`bench select: --keep must be in (0, 1], got '${values.keep}'`);
  if (data !== 'clustered' && data !== 'gaussian') throw new UsageError(`bench select: --data takes clustered or gaussian, got '${data}'`);
  const affinity = (values.affinity ?? SALN_DEFAULTS.affinity) as Affinity, laplacian = (values.laplacian ?? SALN_DEFAULTS.laplacian) as LaplacianKind;
  if (!AFFINITIES.includes(affinity)) throw new UsageError(`bench select: --affinity takes ${AFFINITIES.join(', ')}`);
  if (!LAPLACIANS.includes(laplacian)) throw new UsageError(`bench select: --laplacian takes ${LAPLACIANS.join(', ')}`);

  // The default rule (clusters, learnability inside) reads the reference's losses and the learner's remembered
  // ones: synthetic values stand in for both.
  const selector = new SalnSelector({ affinity, laplacian });
  const { lanczosSteps, tolerance, temperature, rule } = selector.options;
  report.line(`${data} features, F = ${F}; affinity ${affinity}, ${laplacian} Laplacian, rule ${rule}, keep ${ratio}`);
  report.line(`select: features [B, F] on the GPU -> kept indices (graph, Lanczos with tolerance ${tolerance} and at most ${lanczosSteps} steps, readbacks, rule);`);
  report.line(`lanczos: the Fiedler pair of the same Laplacian on the GPU; jacobi: every eigenpair of it on the CPU in float64 (${jacobiRuns} runs; the warm-up is skipped where one run takes over 2 s)`);
  const settings = { data, affinity, laplacian, rule, F };
  const selectTimes = new Map<number, Stats>();
  for (const B of sizes) {
    const features = Tensor.upload(rt, syntheticFeatures(B, F, data, B), [B, F]);
    const labels = Tensor.upload(rt, new Uint32Array(B), [B], 'u32');
    const keep = Math.max(1, Math.round(ratio * B));
    let step = 0;
    // Each call ends with the kept indices on the CPU, so it is its own sync.
    const referenceLoss = Tensor.upload(rt, uniformArray(B, 21, 1, 0, 2), [B]);
    const staleLoss = uniformArray(B, 22, 1, 0, 3);
    const selectSeconds = await measure(runs, () => selector.select({ rt, batchSize: B, keep, labels, features, referenceLoss, staleLoss, seed: 1, step: step++ }));
    referenceLoss.dispose();
    report.figure({ suite: 'select', case: `B=${B} select`, engine: 'saln', seconds: selectSeconds, unit: 'ms', extra: { ...settings, B, keep } });
    selectTimes.set(B, selectSeconds);
    const graph = buildGraph(features, { affinity, laplacian, temperature });
    let result: Awaited<ReturnType<typeof lanczos>> | undefined;
    const lanczosSeconds = await measure(runs, async () => {
      result?.vectors.dispose();
      result = await lanczos(rt, graph.laplacian, { deflate: graph.nullVector, maxSteps: lanczosSteps, tolerance, seed: 1 });
    });
    result!.vectors.dispose();
    const relativeResidual = result!.residuals[0] / result!.normEstimate;
    report.figure({ suite: 'select', case: `B=${B} lanczos`, engine: 'saln', seconds: lanczosSeconds, unit: 'ms', extra: { ...settings, B, lanczosSteps: result!.iterations, relativeResidual } });
    const dense = Float64Array.from(await graph.laplacian.download());
    graph.dispose(); features.dispose(); labels.dispose();
    if (jacobiRuns > 0) {
      let sweeps = 0;
      const jacobiSeconds = await measure(jacobiRuns, () => { sweeps = jacobiEigen(dense, B).sweeps; }, undefined, 2);
      report.figure({ suite: 'select', case: `B=${B} jacobi (CPU)`, engine: 'saln', seconds: jacobiSeconds, unit: 'ms', extra: { ...settings, B, jacobiSweeps: sweeps, jacobiOverLanczos: jacobiSeconds.median / lanczosSeconds.median } });
    }
  }

  // What the selection costs against the step it serves: a training step with SALN on a super-batch of 256
  // Fashion-MNIST-sized images (compare's default model): scoring forward, selection, then forward, backward
  // and SGD on the kept half.
  const B = 256;
  // The paper-literal variant on the learner's own features: a scoring forward over the super-batch each step.
  const learnerSelector = new SalnSelector({ affinity, laplacian, featureSource: 'learner', rule: 'proportional' });
  const step = await selectingStepSeconds(rt, runs, B, ratio, learnerSelector, 'learner');
  report.figure({ suite: 'select', case: `B=${B} training step with selection (28x28x1, ImageNet stem)`, engine: 'saln', seconds: step.step, unit: 'ms', extra: { B, keep: ratio } });
  const alone = selectTimes.get(B)?.median ?? step.selection.median;
  report.line(`  selection (features to indices) at B=${B}: ${(1000 * step.selection.median).toFixed(1)} ms inside the step (${(1000 * alone).toFixed(1)} ms alone) = ${(100 * step.selection.median / step.step.median).toFixed(1)}% of the step; the learner's scoring forward over the super-batch comes on top`);
  report.extra({ type: 'selection-share', suite: 'select', B, selectionSeconds: step.selection.median, stepSeconds: step.step.median, share: step.selection.median / step.step.median });

  // With a reference's features cached over the training split (the default): no scoring forward; the selection
  // is the rows' gather, the graph, Lanczos and the rule.
  const cached = await selectingStepSeconds(rt, runs, B, ratio, selector, 'cached');
  report.figure({ suite: 'select', case: `B=${B} training step with cached reference features (28x28x1, ImageNet stem)`, engine: 'saln', seconds: cached.step, unit: 'ms', extra: { B, keep: ratio, rule: selector.options.rule, within: selector.options.within } });
  report.line(`  selection from cached reference features at B=${B} (gather + graph + Lanczos + ${selector.options.rule} rule): ${(1000 * cached.selection.median).toFixed(1)} ms = ${(100 * cached.selection.median / cached.step.median).toFixed(1)}% of the step (no scoring forward)`);
  report.extra({ type: 'selection-share', suite: 'select', B, source: 'cached', selectionSeconds: cached.selection.median, stepSeconds: cached.step.median, share: cached.selection.median / cached.step.median });
}

/** Rows of reference features for a 20,000-image training split, as `saln train` caches them. */
const CACHED_ROWS = 20000;

async function selectingStepSeconds(rt: Runtime, runs: number, B: number, ratio: number, selector: SalnSelector, source: 'learner' | 'cached'): Promise<{ step: Stats; selection: Stats }> {
  const { model, store } = createResNet18(rt, { stem: 'imagenet', width: 1, inChannels: 1, classes: 10 }, 1);
  const momentum = fill(Tensor.empty(rt, [store.values.size]), 0);
  const x = Tensor.upload(rt, uniformArray(B * 28 * 28, 3, 1, -1, 1), [B, 28, 28, 1]);
  const labelValues = Uint32Array.from({ length: B }, (_, i) => i % 10);
  const labels = Tensor.upload(rt, labelValues, [B], 'u32');
  const keep = Math.max(2, Math.round(ratio * B));
  const selectionSamples: number[] = [];
  let count = 0;
  const table = source === 'cached' ? Tensor.upload(rt, syntheticFeatures(CACHED_ROWS, 512, 'clustered', 9), [CACHED_ROWS, 512]) : null;
  const referenceLosses = uniformArray(CACHED_ROWS, 11, 1, 0, 2);
  const staleLosses = uniformArray(CACHED_ROWS, 12, 1, 0, 3);
  const body = async () => {
    let features: Tensor;
    let t0: number;
    let referenceLoss: Tensor | undefined, staleLoss: Float32Array | undefined;
    if (table) {
      t0 = performance.now();
      const rows = Uint32Array.from({ length: B }, (_, i) => (count * B + i * 7919) % CACHED_ROWS);
      const rowTensor = Tensor.upload(rt, rows, [B], 'u32');
      features = gatherRows(table, rowTensor);
      rowTensor.dispose();
      referenceLoss = Tensor.upload(rt, Float32Array.from(rows, (r) => referenceLosses[r]), [B]);
      staleLoss = Float32Array.from(rows, (r) => staleLosses[r]);
    } else {
      const scoring = new Tape(false);
      features = scoring.keep(model.features({ tape: scoring, store, training: false }, new Var(x, false))).value;
      scoring.release();
      // The scoring forward finishes first, so the clock covers the selection alone (the step waits for it anyway).
      await rt.sync('bench select scoring');
      t0 = performance.now();
    }
    const { indices } = await selector.select({ rt, batchSize: B, keep, labels, features, referenceLoss, staleLoss, seed: 1, step: count++ });
    selectionSamples.push((performance.now() - t0) / 1000);
    features.dispose();
    referenceLoss?.dispose();
    const index = Tensor.upload(rt, indices, [indices.length], 'u32');
    const kept = gatherRows(x, index);
    const keptLabels = Tensor.upload(rt, Uint32Array.from(indices, (i) => labelValues[i]), [indices.length], 'u32');
    index.dispose();
    trainingStep({ model, store }, momentum, kept, keptLabels);
    kept.dispose(); keptLabels.dispose();
  };
  try {
    const step = await measure(runs, body, () => rt.sync('bench select step'));
    // The warm-up call's selection is not a sample.
    return { step, selection: statsOf(selectionSamples.slice(1)) };
  } finally {
    x.dispose(); labels.dispose(); momentum.dispose(); store.dispose(); table?.dispose();
  }
}

