// The training loop: shuffled batches -> GPU augmentation -> forward on the tape -> backward -> gradient norm
// (NaN/Inf stop the run, naming the tensor) -> optimizer step over the flat parameters -> metrics; evaluation
// on the test split and a checkpoint at the end of each epoch and every `checkpointEvery` steps. A lost device
// or a non-finite step stops the run without touching the last good checkpoint, and says which one it is. Every random choice (initialisation, order, augmentation) comes
// from the seed, and the position in training is saved, so a resumed run repeats the uninterrupted one.
import { mkdirSync } from 'node:fs';
import type { Runtime } from '../gpu/runtime.ts';
import { Tensor } from '../tensor.ts';
import { Tape, Var } from '../autograd.ts';
import { CpuRandom } from '../rng.ts';
import { createResNet18, type ResNetInstance } from '../nn/resnet.ts';
import { crossEntropy } from '../nn/functional.ts';
import { augmentBatch, uploadImages, type ImageShape } from '../ops/augment.ts';
import { gradNorm } from '../ops/optimizer.ts';
import { createOptimizer, type Optimizer } from '../nn/optimizers.ts';
import { sum } from '../ops/reduce.ts';
import { gatherImages, type LabelledImages } from '../../datasets/images.ts';
import { applyModelTensors, loadCheckpoint, MODEL_FILE, saveCheckpoint } from './checkpoint.ts';
import { readSafetensors } from './safetensors.ts';
import { createSelector } from '../select/registry.ts';
import type { SelectionResult, Selector } from '../select/types.ts';
import type { KernelTime } from '../gpu/profiler.ts';
import { gatherRows } from '../ops/fill.ts';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadPretrained } from './pretrained.ts';
import { forwardFault, gradientFault, type Fault } from './faults.ts';
import { locateNonFinite } from './nonfinite.ts';
import type { TrainConfig } from './config.ts';
import { DeviceLostError, GpuMemoryError } from '../gpu/errors.ts';
import { referenceFeatures } from './reference-features.ts';
import { selectionDiagnostics } from './selection-diagnostics.ts';

export { trainConfig, type SelectionConfig, type TrainConfig } from './config.ts';

export interface TrainData {
  name: string;
  train: LabelledImages;
  test: LabelledImages;
}

export interface Progress {
  start(total: number, label: string): void;
  update(done: number, fields: Record<string, string | number>): void;
  stop(): void;
}

export interface TrainerHooks {
  /** Human-readable lines (the CLI prints them on stderr). */
  log(line: string): void;
  /** One record per step and per evaluation (the CLI writes them as JSON lines). */
  metrics(record: Record<string, unknown>): void;
  progress?: Progress;
  /** Learning rate at an optimizer step (1-based); constant when absent. */
  schedule?: (step: number) => number;
  /** Test hook: a fault to inject (NaN loss or activation, Inf gradient, lost device) at one step. */
  inject?: Fault;
  /** Also save a checkpoint every N optimizer steps (what a lost device or a crash falls back to). */
  checkpointEvery?: number;
  /** Stop (after a final evaluation) once this many images were back-propagated or training took this long. */
  budget?: { images?: number; seconds?: number };
  /** Also evaluate every N steps on the first `evalSubset` test images (accuracy curves for comparisons). */
  evalEvery?: number;
  evalSubset?: number;
  /** Profile this optimizer step (1-based; the first steps also compile pipelines): per-kernel device time. */
  profileStep?: number;
  onProfile?: (kernels: KernelTime[], peakPoolBytes: number) => void;
  /** Sees each selection while its tensors are alive (reports keep a few super-batches and their choice). */
  onSelection?: (info: SelectionInfo) => Promise<void> | void;
  /** Sees the training-split indices back-propagated at each step (studies count what selectors keep). */
  onKept?: (kept: ArrayLike<number>, candidates: ArrayLike<number>) => void;
}

export interface SelectionInfo {
  step: number;
  /** Training-split indices of the super-batch's candidates (result.indices index into this). */
  candidates: ArrayLike<number>;
  /** Raw uint8 bytes of the super-batch (NHWC) and its shape, before augmentation. */
  bytes: Uint8Array;
  shape: ImageShape;
  result: SelectionResult;
  /** [B, F] features the selector used, if any. */
  features?: Tensor;
}

export interface EvalResult {
  loss: number;
  accuracy: number;
  count: number;
  /** With `perClass`: the mean recall over the classes present (equal to accuracy on a class-balanced split). */
  balancedAccuracy?: number;
  perClass?: { correct: number[]; count: number[] };
}

export interface TrainSummary {
  epochs: number;
  steps: number;
  imagesTrained: number;
  seconds: number;
  imagesPerSecond: number;
  finalEval: EvalResult | null;
  stoppedEarly: boolean;
  /** Seconds spent in training steps (selection included), without evaluations and checkpoints. */
  trainSeconds: number;
  budgetReached: boolean;
}

export class NonFiniteLossError extends Error {
  override name = 'NonFiniteLossError';
}

/**
 * A buffer over the adapter's limits, with the batch size that fits it when the buffer holds a batch (its
 * label is `dtype[batch,...]` and its size is proportional to the batch).
 */
function withBatchAdvice(e: GpuMemoryError, batch: number, flag: string): GpuMemoryError {
  if (!(e.bytes > 0 && e.limit > 0)) return e;
  if (!e.label.includes(`[${batch},`)) {
    return new GpuMemoryError(`${e.message}; the model itself does not fit this adapter: use a smaller --width`, e.bytes, e.limit, e.label);
  }
  const fits = Math.floor(batch * e.limit / e.bytes);
  const advice = fits >= 1 ? `; ${flag} ${batch} is too big for this adapter: use ${flag} ${fits} or less` : `; even ${flag} 1 is too big: use a smaller --image-size or --width`;
  return new GpuMemoryError(`${e.message}${advice}`, e.bytes, e.limit, e.label);
}

/** Batches per epoch: the last partial batch is dropped when it has fewer than 2 samples (batch-norm needs 2). */
export function batchesPerEpoch(count: number, batchSize: number): number {
  const full = Math.floor(count / batchSize);
  return count % batchSize >= 2 ? full + 1 : Math.max(full, count >= 2 ? 1 : 0);
}

/** The training order of an epoch: a seeded permutation, the same on every run and resume. */
export function epochOrder(count: number, seed: number, epoch: number): Uint32Array {
  return new CpuRandom(seed, 0x5a1e0000 + epoch).permutation(count);
}

/** Two views of the same part of an epoch's order (subarray makes a new object every time). */
function sameWindow(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  return a instanceof Uint32Array && b instanceof Uint32Array && a.buffer === b.buffer && a.byteOffset === b.byteOffset && a.length === b.length;
}


export class Trainer {
  readonly net: ResNetInstance;
  readonly selector: Selector | null;
  /** A frozen model whose losses or features some selectors ask for. */
  readonly reference: ResNetInstance | null = null;
  private stopRequested = false;
  private readonly optimizer: Optimizer;
  private readonly optimizerState: Map<string, Tensor>;
  step = 0;
  epoch = 0;
  batchInEpoch = 0;
  /** Saved with each checkpoint beside the configuration (what the CLI needs to rebuild the run on resume). */
  runInfo: Record<string, unknown> = {};
  /** The step of the checkpoint in `out` that this run wrote or resumed from (null: none yet). */
  lastCheckpoint: number | null = null;
  /** The reference's features [N, F] on the GPU and losses [N], over the training split (cached selection scores). */
  private referenceScores: { features: Tensor; losses: Float32Array } | null = null;
  /**
   * Each training sample's learner loss from its last forward (NaN: never forwarded) and the step of that forward:
   * loss- and learnability-aware rules read these instead of running a scoring forward.
   */
  readonly staleLoss: Float32Array;
  private staleStep: Float64Array;

  constructor(readonly rt: Runtime, readonly config: TrainConfig, readonly data: TrainData, readonly out: string, readonly hooks: TrainerHooks) {
    this.net = createResNet18(rt, config.model, config.seed);
    const selection = config.selection;
    this.selector = selection && selection.selector !== 'none' ? createSelector(selection.selector, selection.options) : null;
    if (selection && !(selection.keep > 0 && selection.keep <= 1)) throw new Error(`keep ratio must lie in (0, 1], got ${selection.keep}`);
    const needs = this.selector?.needs ?? {};
    if (needs.referenceLoss || needs.features === 'reference') {
      if (!selection?.reference) throw new Error(`the ${selection!.selector} selector needs a reference model: pass --reference CHECKPOINT (a run of saln train, or ImageNet weights)`);
      this.reference = createResNet18(rt, config.model, config.seed + 1);
      const file = existsSync(selection.reference) && statSync(selection.reference).isDirectory() ? join(selection.reference, MODEL_FILE) : selection.reference;
      applyModelTensors(this.reference.store, readSafetensors(file).tensors, { strict: true, source: file });
    }
    this.staleLoss = new Float32Array(data.train.count).fill(NaN);
    this.staleStep = new Float64Array(data.train.count).fill(NaN);
    this.optimizer = createOptimizer(rt, config, this.net.store.values.size);
    this.optimizerState = this.optimizer.state;
  }

  /** Ctrl-C: finish the current step, save a checkpoint, return. */
  requestStop(): void {
    this.stopRequested = true;
  }

  loadPretrained(path: string): string[] {
    return loadPretrained(path, this.net.store, this.net.model.config);
  }

  resume(dir: string): void {
    const { state, optimizer } = loadCheckpoint(dir, this.net.store);
    for (const [name, tensor] of this.optimizerState) {
      const data = optimizer.get(name);
      if (!data || data.length !== tensor.size) throw new Error(`resume: ${dir} has no matching optimizer state '${name}' (was it trained with another --optimizer?)`);
      tensor.upload(data);
    }
    this.step = state.step;
    this.epoch = state.epoch;
    this.batchInEpoch = state.batchInEpoch;
    if (dir === this.out) this.lastCheckpoint = state.step;
  }

  /** Where a stopped run can continue from, for error messages. */
  private checkpointNote(): string {
    return this.lastCheckpoint === null
      ? `no checkpoint was saved yet in ${this.out}`
      : `the last good checkpoint (step ${this.lastCheckpoint}) in ${this.out} is kept: continue with 'saln train --resume ${this.out}'`;
  }

  async run(): Promise<TrainSummary> {
    try {
      return await this.loop();
    } catch (e) {
      if (e instanceof DeviceLostError) {
        throw new DeviceLostError(`GPU device lost at step ${this.step + 1} (${e.reason}); ${this.checkpointNote()}`, e.reason);
      }
      throw e;
    }
  }

  private imageShape(data: LabelledImages, n: number): ImageShape {
    return { n, h: data.height, w: data.width, c: data.channels };
  }

  private async loop(): Promise<TrainSummary> {
    const { config, hooks } = this;
    const { store } = this.net;
    mkdirSync(this.out, { recursive: true });
    const train = this.data.train;
    const perEpoch = batchesPerEpoch(train.count, config.batchSize);
    if (perEpoch === 0) throw new Error(`the training split has ${train.count} samples; at least 2 are needed`);
    const started = performance.now();
    let imagesTrained = 0;
    let lastEval: EvalResult | null = null;
    const decayRange: [number, number] = [0, store.decayEnd];
    let trainSeconds = 0;
    let budgetReached = false;
    const budget = hooks.budget;
    const subset = hooks.evalSubset ? { ...this.data.test, count: Math.min(hooks.evalSubset, this.data.test.count) } : this.data.test;
    await this.prepareReferenceScores();
    hooks.log(`training ResNet-18 (${config.model.stem} stem, width ${config.model.width}, ${store.parameterCount.toLocaleString('en-US')} parameters) on ${this.data.name}: ${train.count} samples, ${perEpoch} batches of ${config.batchSize} per epoch, ${config.epochs} epochs`);
    while (this.epoch < config.epochs) {
      const order = epochOrder(train.count, config.seed, this.epoch);
      hooks.progress?.start(perEpoch, `epoch ${this.epoch + 1}/${config.epochs}`);
      const epochStart = performance.now();
      let epochImages = 0;
      for (; this.batchInEpoch < perEpoch; this.batchInEpoch++) {
        if (this.stopRequested) break;
        const indices = order.subarray(this.batchInEpoch * config.batchSize, Math.min(train.count, (this.batchInEpoch + 1) * config.batchSize));
        const next = this.batchInEpoch + 1 < perEpoch
          ? order.subarray((this.batchInEpoch + 1) * config.batchSize, Math.min(train.count, (this.batchInEpoch + 2) * config.batchSize)) : null;
        const profiling = hooks.profileStep === this.step + 1;
        if (profiling) { this.rt.pool.resetPeak(); this.rt.startProfile(); }
        if (hooks.inject?.kind === 'device-lost' && hooks.inject.step === this.step + 1) this.rt.ctx.simulateLoss();
        const { loss, norm, kept, forwarded, selectionSeconds, stepSeconds, diagnostics } = await this.trainStep(indices, decayRange, next).catch((e) => {
          throw e instanceof GpuMemoryError ? withBatchAdvice(e, indices.length, '--batch-size') : e;
        });
        if (profiling) hooks.onProfile?.(await this.rt.stopProfile(), this.rt.pool.report().peakBytes);
        imagesTrained += kept;
        trainSeconds += stepSeconds;
        epochImages += indices.length;
        const seconds = (performance.now() - started) / 1000;
        const imagesPerSecond = epochImages / ((performance.now() - epochStart) / 1000);
        hooks.metrics({ kind: 'step', step: this.step, epoch: this.epoch, loss, gradNorm: norm, lr: this.lr(this.step), imagesPerSecond, elapsed: seconds, backpropagated: kept, forwarded, candidates: indices.length, selectionSeconds, stepSeconds, trainSeconds, imagesTrained, ...diagnostics });
        hooks.progress?.update(this.batchInEpoch + 1, { loss: loss.toFixed(4), 'img/s': imagesPerSecond.toFixed(1) });
        if (hooks.checkpointEvery && this.step % hooks.checkpointEvery === 0) await this.save(this.batchInEpoch + 1);
        if (budget && ((budget.images !== undefined && imagesTrained >= budget.images) || (budget.seconds !== undefined && trainSeconds >= budget.seconds))) {
          budgetReached = true;
          this.batchInEpoch++;
          break;
        }
        if (hooks.evalEvery && this.step % hooks.evalEvery === 0) {
          const partial = await this.evaluate(subset);
          hooks.metrics({ kind: 'eval', partial: true, step: this.step, epoch: this.epoch, loss: partial.loss, accuracy: partial.accuracy, count: partial.count, elapsed: (performance.now() - started) / 1000, trainSeconds, imagesTrained });
        }
      }
      hooks.progress?.stop();
      if (this.stopRequested) {
        await this.save();
        hooks.log(`stopped at step ${this.step}; checkpoint saved in ${this.out} (continue with --resume ${this.out})`);
        break;
      }
      lastEval = await this.evaluate(this.data.test).catch((e) => {
        throw e instanceof GpuMemoryError ? withBatchAdvice(e, Math.min(config.evalBatchSize, this.data.test.count), '--eval-batch-size') : e;
      });
      hooks.metrics({ kind: 'eval', step: this.step, epoch: this.epoch, loss: lastEval.loss, accuracy: lastEval.accuracy, count: lastEval.count, elapsed: (performance.now() - started) / 1000, trainSeconds, imagesTrained });
      const epochLine = `epoch ${this.epoch + 1}: test accuracy ${(100 * lastEval.accuracy).toFixed(2)}% (${lastEval.count} images), test loss ${lastEval.loss.toFixed(4)}`;
      if (this.batchInEpoch >= perEpoch) {
        this.epoch++;
        this.batchInEpoch = 0;
      }
      await this.save();
      // Printed once the epoch's checkpoint is on disk: an interrupt after this line finds it there.
      hooks.log(epochLine);
      if (budgetReached) break;
    }
    const seconds = (performance.now() - started) / 1000;
    return { epochs: this.epoch, steps: this.step, imagesTrained, seconds, imagesPerSecond: imagesTrained / seconds, finalEval: lastEval, stoppedEarly: this.stopRequested, trainSeconds, budgetReached };
  }

  /** Reference features and losses over the training split, from the cache or computed once (then cached). */
  private async prepareReferenceScores(): Promise<void> {
    const selection = this.config.selection;
    const needs = this.selector?.needs ?? {};
    if (!this.reference || !selection?.reference || this.referenceScores || selection.referenceScores === 'forward') return;
    if (needs.features !== 'reference' && !needs.referenceLoss) return;
    const { config } = this;
    const started = performance.now();
    const cache = await referenceFeatures(this.rt, this.reference, selection.reference, this.data.train,
      { resize: config.augment.resize, mean: config.mean, std: config.std }, selection.featureCache);
    this.hooks.log(`reference features ${cache.count} x ${cache.dim} ${cache.cached ? 'read from' : 'computed into'} ${cache.file} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
    this.referenceScores = { features: Tensor.upload(this.rt, cache.features, [cache.count, cache.dim]), losses: cache.losses };
  }

  private lr(step: number): number {
    return this.hooks.schedule ? this.hooks.schedule(step) : this.config.lr;
  }

  /** The keep ratio at the current step (constant, or linear from keep to keepEnd over the planned steps). */
  keepRatio(): number {
    const { keep, keepEnd, warmupSteps = 0, rampSteps = 0 } = this.config.selection!;
    if (this.step < warmupSteps) return 1;
    const total = this.config.epochs * batchesPerEpoch(this.data.train.count, this.config.batchSize);
    const planned = keepEnd === undefined ? keep : keep + (keepEnd - keep) * Math.min(1, this.step / Math.max(1, total - 1));
    const ramp = rampSteps > 0 ? Math.min(1, (this.step - warmupSteps + 1) / rampSteps) : 1;
    return 1 + (planned - 1) * ramp;
  }

  /** Images run forward (no grad) to score the last super-batch. */
  private scoringForwards = 0;
  private prefetched: { indices: ArrayLike<number>; batch: { bytes: Uint8Array; labels: Uint32Array } } | null = null;

  /**
   * One optimizer step on the given samples; returns the batch loss and the gradient norm. The next batch's bytes
   * are gathered while the GPU works on this one (between submitting the step and reading its loss).
   */
  private async trainStep(indices: ArrayLike<number>, decayRange: [number, number], next: ArrayLike<number> | null): Promise<{ loss: number; norm: number; kept: number; forwarded: number; selectionSeconds: number; stepSeconds: number; diagnostics?: Record<string, unknown> }> {
    const { rt, config } = this;
    const { model, store } = this.net;
    const train = this.data.train;
    const stepStart = performance.now();
    const batch = this.prefetched && sameWindow(this.prefetched.indices, indices) ? this.prefetched.batch : gatherImages(train, indices);
    this.prefetched = null;
    const shape = this.imageShape(train, indices.length);
    // Every tensor of the step (the batch, the activations, the loss, the norm) is freed when this scope ends,
    // on a throw too; the parameters, their gradients and the optimizer state live outside it.
    return rt.scope(async () => {
      // The augmentation stream is the step: a resumed run draws what the uninterrupted one drew.
      const candidates = rt.scope(() => augmentBatch(rt, uploadImages(rt, batch.bytes, shape), shape, { ...config.augment, mean: config.mean, std: config.std }, config.seed, this.step + 1));
      const selectionStart = performance.now();
      this.scoringForwards = 0;
      const { x, labels, kept, diagnostics } = await this.select(candidates, batch.labels, batch.bytes, indices);
      const keptGlobal = kept ? Uint32Array.from(kept, (i) => indices[i]) : Uint32Array.from(indices);
      this.hooks.onKept?.(keptGlobal, indices);
      const selectionSeconds = this.selector ? (performance.now() - selectionStart) / 1000 : 0;
      const labelTensor = Tensor.upload(rt, labels, [labels.length], 'u32');
      store.zeroGrads();
      const tape = new Tape();
      const probe = forwardFault(rt, this.hooks.inject, this.step + 1);
      const logits = model.forward({ tape, store, training: true, probe }, new Var(x, false));
      const ce = crossEntropy(tape, logits, labelTensor, { labelSmoothing: config.labelSmoothing });
      probe?.('loss', ce.loss);
      tape.keep(ce.loss);
      tape.backward(ce.loss, Tensor.upload(rt, [1], [1]));
      gradientFault(rt, this.hooks.inject, this.step + 1, store);
      const { norm, nonFinite } = gradNorm(store.grads);
      const readback = Promise.all([ce.loss.value.download(), norm.download(), nonFinite.download(), this.selector ? ce.perSample.download() : null]);
      if (next) this.prefetched = { indices: next, batch: gatherImages(train, next) };
      const [lossValue, normValue, bad, perSample] = await readback;
      if (perSample) this.remember(keptGlobal, perSample as Float32Array);
      const loss = lossValue[0];
      if (!Number.isFinite(loss) || bad[0] !== 0 || !Number.isFinite(normValue[0])) {
        const where = await locateNonFinite(this.net, x, labelTensor, forwardFault(rt, this.hooks.inject, this.step + 1));
        throw new NonFiniteLossError(`${where} at step ${this.step + 1} (epoch ${this.epoch + 1}); training stopped and ${this.checkpointNote()}; lower --lr or use --clip-norm`);
      }
      this.step++;
      const lr = this.lr(this.step);
      const clip = config.clipNorm > 0 ? { norm, maxNorm: config.clipNorm } : undefined;
      this.optimizer.step(store.values, store.grads, this.step, lr, { clip, decayRange });
      return { loss, norm: normValue[0], kept: labels.length, forwarded: labels.length + this.scoringForwards, selectionSeconds, stepSeconds: (performance.now() - stepStart) / 1000, diagnostics };
    });
  }

  /** Records the learner's losses of the samples `globalIndices` (a forward just computed them). */
  private remember(globalIndices: ArrayLike<number>, losses: ArrayLike<number>): void {
    for (let k = 0; k < globalIndices.length; k++) {
      this.staleLoss[globalIndices[k]] = losses[k];
      this.staleStep[globalIndices[k]] = this.step;
    }
  }

  /**
   * The samples to back-propagate: all of them without a selector (or during the selection warm-up); otherwise
   * the selector's choice, from what it needs: reference features and losses gathered from the cache, remembered
   * learner losses, or a no-grad scoring forward (batch-norm on the super-batch's statistics unless told otherwise;
   * the running statistics never move).
   */
  private async select(candidates: Tensor, labels: Uint32Array, bytes: Uint8Array | undefined, globalIndices: ArrayLike<number>): Promise<{ x: Tensor; labels: Uint32Array; kept: Uint32Array | null; diagnostics?: Record<string, unknown> }> {
    const selector = this.selector;
    const selection = this.config.selection;
    if (!selector || !selection || this.step < (selection.warmupSteps ?? 0)) return { x: candidates, labels, kept: null };
    const { rt, config } = this;
    const B = labels.length;
    const keep = Math.min(B, Math.max(2, Math.round(this.keepRatio() * B)));
    // The labels, scores and features are freed when this scope ends; the kept rows (x) go to the step's scope.
    return rt.scope(async () => {
      const labelTensor = Tensor.upload(rt, labels, [B], 'u32');
      const batchStats = (selection.scoringStats ?? 'batch') === 'batch';
      const score = (net: ResNetInstance, wantFeatures: boolean, wantLoss: boolean, isLearner: boolean) => {
        const tape = new Tape(false);
        const ctx = { tape, store: net.store, training: isLearner && batchStats, freezeRunningStats: true };
        const features = net.model.features(ctx, new Var(candidates, false));
        let loss: Tensor | undefined;
        if (wantLoss) {
          const ce = crossEntropy(tape, net.model.fc.forward(ctx, features), labelTensor);
          loss = ce.perSample;
        }
        if (wantFeatures) tape.keep(features);
        tape.release();
        return { features: wantFeatures ? features.value : undefined, loss };
      };
      const needs = selector.needs;
      const gatherStarted = performance.now();
      const cached = this.referenceScores;
      const learner = needs.features === 'learner' || needs.learnerLoss ? score(this.net, needs.features === 'learner', Boolean(needs.learnerLoss), true) : null;
      const forwardReference = (needs.features === 'reference' && !cached) || (needs.referenceLoss && !cached);
      const reference = forwardReference ? score(this.reference!, needs.features === 'reference', Boolean(needs.referenceLoss), false) : null;
      this.scoringForwards = (learner ? B : 0) + (reference ? B : 0);
      let features = learner?.features ?? reference?.features;
      let referenceLoss = reference?.loss;
      if (cached) {
        const rows = Tensor.upload(rt, Uint32Array.from(globalIndices), [B], 'u32');
        if (needs.features === 'reference') features = gatherRows(cached.features, rows);
        if (needs.referenceLoss) referenceLoss = Tensor.upload(rt, Float32Array.from(globalIndices, (i) => cached.losses[i]), [B]);
      }
      const staleLoss = needs.staleLoss ? Float32Array.from(globalIndices, (i) => this.staleLoss[i]) : undefined;
      const gatherMs = performance.now() - gatherStarted;
      const result = await selector.select({
        rt, batchSize: B, keep, labels: labelTensor, seed: config.seed, step: this.step + 1,
        features, learnerLoss: learner?.loss, referenceLoss, staleLoss,
    });
    if (this.hooks.onSelection && bytes) await this.hooks.onSelection({ step: this.step + 1, candidates: globalIndices, bytes, shape: this.imageShape(this.data.train, B), result, features });
    if (learner?.loss) this.remember(globalIndices, await learner.loss.download() as Float32Array);
    const chosen = result.indices;
    const diagnostics = selectionDiagnostics(result, labels, { gatherMs, staleAge: staleLoss ? this.meanAge(globalIndices) : undefined });
    if (chosen.length === B) return { x: candidates, labels, kept: chosen, diagnostics };
    const x = gatherRows(candidates, Tensor.upload(rt, chosen, [chosen.length], 'u32'));
    candidates.dispose();
    return { x, labels: Uint32Array.from(chosen, (i) => labels[i]), kept: chosen, diagnostics };
    });
  }

  /** Mean age in steps of the remembered losses of `globalIndices` (never-forwarded samples left out). */
  private meanAge(globalIndices: ArrayLike<number>): number | undefined {
    let sum = 0, seen = 0;
    for (let k = 0; k < globalIndices.length; k++) {
      const at = this.staleStep[globalIndices[k]];
      if (!Number.isNaN(at)) { sum += this.step - at; seen++; }
    }
    return seen ? sum / seen : undefined;
  }

  /** Top-1 accuracy and mean loss over a split, batch-norm in evaluation mode, no tape records. */
  async evaluate(data: LabelledImages, options: { perClass?: boolean } = {}): Promise<EvalResult> {
    const { rt, config } = this;
    const { model, store } = this.net;
    let correct = 0, lossSum = 0;
    const classes = config.model.classes ?? data.classes.length;
    const perClass = options.perClass ? { correct: new Array<number>(classes).fill(0), count: new Array<number>(classes).fill(0) } : undefined;
    for (let start = 0; start < data.count; start += config.evalBatchSize) {
      const count = Math.min(config.evalBatchSize, data.count - start);
      const indices = Array.from({ length: count }, (_, k) => start + k);
      const { bytes, labels } = gatherImages(data, indices);
      const shape = this.imageShape(data, count);
      // The batch's tensors are freed when its scope ends.
      const [c, l, p] = await rt.scope(async () => {
        const x = rt.scope(() => augmentBatch(rt, uploadImages(rt, bytes, shape), shape, { resize: config.augment.resize, mean: config.mean, std: config.std }, config.seed, 0));
        const labelTensor = Tensor.upload(rt, labels, [count], 'u32');
        const tape = new Tape(false);
        const logits = model.forward({ tape, store, training: false }, new Var(x, false));
        const ce = crossEntropy(tape, logits, labelTensor);
        const correctSum = sum(ce.correct, 0), lossTotal = sum(ce.perSample, 0);
        tape.release();
        return await Promise.all([correctSum.download(), lossTotal.download(), perClass ? ce.predicted.download() : null]);
      });
      if (perClass && p) {
        for (let k = 0; k < count; k++) { perClass.count[labels[k]]++; if (p[k] === labels[k]) perClass.correct[labels[k]]++; }
      }
      correct += c[0];
      lossSum += l[0];
    }
    const result: EvalResult = { loss: lossSum / data.count, accuracy: correct / data.count, count: data.count };
    if (perClass) {
      const present = perClass.count.map((n, c) => [n, c]).filter(([n]) => n > 0);
      result.balancedAccuracy = present.reduce((a, [n, c]) => a + perClass.correct[c] / n, 0) / Math.max(1, present.length);
      result.perClass = perClass;
    }
    return result;
  }

  /** @param batchInEpoch the next batch to train (mid-epoch saves run before the loop moves on). */
  async save(batchInEpoch = this.batchInEpoch): Promise<void> {
    const optimizer = new Map<string, Float32Array>();
    for (const [name, t] of this.optimizerState) optimizer.set(name, await t.download() as Float32Array);
    await saveCheckpoint(this.out, this.net.store, optimizer, {
      step: this.step, epoch: this.epoch, batchInEpoch, extra: { ...this.runInfo, config: this.config, dataset: this.data.name },
    });
    this.lastCheckpoint = this.step;
  }

  dispose(): void {
    for (const t of this.optimizerState.values()) t.dispose();
    this.referenceScores?.features.dispose();
    this.net.store.dispose();
    this.reference?.store.dispose();
  }
}
