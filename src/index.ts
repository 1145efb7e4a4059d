// The library: what a Node program needs to run kernels, train ResNet-18 and select batches without the CLI.
// Exported deliberately: launch internals, references and CLI parsing stay inside.

// Runtime and errors
export { getRuntime, closeRuntime, Runtime, type Grid, type KernelLaunch, type RuntimeHooks } from './gpu/runtime.ts';
export { listAdapters, type GpuContext, type GpuOptions } from './gpu/context.ts';
export { GpuError, GpuMemoryError, NoAdapterError, DeviceLostError, KernelArgumentError, ShaderCompileError } from './gpu/errors.ts';
export { UsageError } from './util/errors.ts';
export { settings, readSettings, type Settings } from './util/settings.ts';

// Tensors, the tape, ops by family
export { Tensor, type DType } from './tensor.ts';
export { Tape, Var } from './autograd.ts';
export * as ops from './ops/index.ts';
export * as nn from './nn/functional.ts';
export { tuneMatmul } from './ops/tuning.ts';
export { allCases as validationCases } from './validate/cases.ts';
export { CpuRandom, philox } from './rng.ts';

// ResNet-18 and its parameter store
export { ResNet18, createResNet18, stageWidths, type ResNetConfig, type Stem } from './nn/resnet.ts';
export { ParameterStore, type TensorSpec } from './nn/parameters.ts';

// The trainer and its data
export { Trainer, trainConfig, type SelectionConfig, type TrainConfig, type TrainData, type TrainSummary, type EvalResult } from './train/trainer.ts';
export { makeSchedule, type LrSchedule } from './train/schedule.ts';
export { readSafetensors, writeSafetensors } from './train/safetensors.ts';
export { saveCheckpoint, loadCheckpoint } from './train/checkpoint.ts';
export { loadTrainData, DATASETS, AUGMENTATIONS, type AugmentName, type DataOptions, type LoadedTrainData } from '../datasets/registry.ts';
export { gatherImages, subsetImages, type LabelledImages } from '../datasets/images.ts';
export { loadFashionMnist } from '../datasets/fashion-mnist.ts';
export { syntheticImages } from '../datasets/synthetic.ts';

// Batch selectors: the registry, each selector, their option types
export { createSelector, isSelectorName, SELECTOR_NAMES, type SelectorName } from './select/registry.ts';
export type { Selector, SelectionInput, SelectionResult, SelectorNeeds } from './select/types.ts';
export { NoneSelector } from './select/none.ts';
export { RandomSelector } from './select/random.ts';
export { LossSelector } from './select/loss.ts';
export { RhoSelector } from './select/rho.ts';
export { JestSelector, type JestOptions } from './select/jest.ts';
export { SalnSelector, fiedlerVector, SALN_DEFAULTS, SALN_RULES, type SalnOptions, type SalnRule, type SpectralOptions } from './select/saln.ts';

// Linear algebra and the graph functions
export { lanczos, LANCZOS_DEFAULTS, type LanczosOptions, type LanczosResult } from './linalg/lanczos.ts';
export { tridiagonalEigen, type TridiagonalEigen } from './linalg/tridiagonal.ts';
export {
  buildGraph, normalizeRows, affinityAndDegrees, knnSparsify, laplacianInPlace, laplacianNullVector,
  type Affinity, type GraphKind, type GraphOptions, type LaplacianKind, type SpectralGraph,
} from './ops/graph.ts';
