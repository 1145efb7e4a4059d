// The op families a library user calls (`import { ops } from 'saln'`): each family's forward and backward launches
// with their option types. Planning helpers, texture paths and other launch internals stay in their files.
export { matmul, availableMatmulVariants, MATMUL_VARIANTS, type MatmulOptions, type MatmulVariant } from './matmul.ts';
export {
  conv2d, conv2dBackwardInput, conv2dBackwardWeight, conv2dBackwardBias, convGeometry, convOutputSize, oihwToOhwi, ohwiToOihw,
  type ConvGeometry, type ConvOptions,
} from './conv.ts';
export { unary, binary, add, sub, mul, div, scaleAdd, accumulate, UNARY_OPS, BINARY_OPS, type BinaryOp, type UnaryOp } from './elementwise.ts';
export { reduce, sum, mean, max, argmax, type ReduceOp } from './reduce.ts';
export { transpose } from './transpose.ts';
export { fill, full, copy, clone, gatherRows } from './fill.ts';
export { randomUniform, randomNormal } from './random.ts';
export { batchNormTrain, batchNormEval, batchNormBackward, BATCHNORM_EPS, BATCHNORM_MOMENTUM, type BatchNormOptions } from './batchnorm.ts';
export { maxPool2d, maxPool2dBackward, globalAvgPool, globalAvgPoolBackward, poolOutputSize, type MaxPoolOptions } from './pool.ts';
export { reluBackward, addRelu } from './relu.ts';
export { linear, linearBackward, type LinearGradients, type LinearSaved } from './linear.ts';
export {
  softmaxCrossEntropy, softmaxCrossEntropyBackward,
  type CrossEntropyUpstream, type SoftmaxCrossEntropyResult, type SoftmaxCrossEntropySaved,
} from './loss.ts';
export {
  sgdStep, adamwStep, gradNorm, SGD_DEFAULTS, ADAMW_DEFAULTS,
  type AdamWConfig, type AdamWState, type GradNorm, type SgdConfig, type StepOptions,
} from './optimizer.ts';
export { augmentBatch, uploadImages, type AugmentOptions, type ImageShape } from './augment.ts';
export {
  buildGraph, normalizeRows, affinityAndDegrees, knnSparsify, laplacianInPlace, laplacianNullVector, AFFINITIES, LAPLACIANS, GRAPH_KINDS,
  type Affinity, type GraphKind, type GraphOptions, type LaplacianKind, type SpectralGraph,
} from './graph.ts';
