// Differentiable ops on tape variables: each runs the forward kernels, records what its backward needs, and
// states its gradient rule in a few lines (the kernels themselves live in src/ops/).
import type { Tensor } from '../tensor.ts';
import { Tape, Var } from '../autograd.ts';
import { conv2dKeepingInput, conv2dBackwardInput, conv2dBackwardWeight, type ConvOptions } from '../ops/conv.ts';
import { batchNormBackward, batchNormEval, batchNormTrain } from '../ops/batchnorm.ts';
import { addRelu as addReluForward, reluBackward } from '../ops/relu.ts';
import { unary } from '../ops/elementwise.ts';
import { clone } from '../ops/fill.ts';
import { globalAvgPool as avgPoolForward, globalAvgPoolBackward, maxPool2d, maxPool2dBackward, type MaxPoolOptions } from '../ops/pool.ts';
import { linear as linearForward, linearBackward } from '../ops/linear.ts';
import { softmaxCrossEntropy, softmaxCrossEntropyBackward } from '../ops/loss.ts';

export function conv2d(tape: Tape, x: Var, w: Var, options: ConvOptions = {}): Var {
  // The weight gradient reads x as the forward did: keep the forward's padded copy for it.
  const { y: value, padded } = conv2dKeepingInput(x.value, w.value, null, options, tape.recording && w.requiresGrad);
  const y = tape.output(value, [x, w]);
  tape.record([x, w], [y], ([dy]) => [
    x.requiresGrad ? conv2dBackwardInput(dy!, w.value, x.shape, options) : null,
    w.requiresGrad ? conv2dBackwardWeight(dy!, x.value, w.shape, options, padded) : null,
  ], padded ? [padded] : []);
  return y;
}

export interface BatchNormState {
  runningMean: Tensor;
  runningVar: Tensor;
  momentum: number;
  eps: number;
}

/**
 * Training: batch statistics (and the running estimates move); evaluation: the running statistics. `relu`:
 * relu(bn(x)) in one op, whose backward gates dy by its own output.
 */
export function batchNorm(tape: Tape, x: Var, gamma: Var, beta: Var, state: BatchNormState, training: boolean, relu = false): Var {
  if (!training) {
    const y = tape.output(batchNormEval(x.value, gamma.value, beta.value, state.runningMean, state.runningVar, state.eps, relu), [x, gamma, beta]);
    tape.record([x, gamma, beta], [y], () => { throw new Error('backward through batch-norm in eval mode is not supported'); });
    return y;
  }
  const { y, mean, invStd } = batchNormTrain(x.value, gamma.value, beta.value, state.runningMean, state.runningVar, { momentum: state.momentum, eps: state.eps, relu });
  const out = tape.output(y, [x, gamma, beta]);
  tape.record([x, gamma, beta], [out], ([dy]) => {
    const { dx, dgamma, dbeta } = batchNormBackward(dy!, x.value, gamma.value, mean, invStd, relu ? out.value : undefined);
    return [dx, dgamma, dbeta];
  }, [mean, invStd]);
  return out;
}

export function relu(tape: Tape, x: Var): Var {
  const y = tape.output(unary('relu', x.value), [x]);
  tape.record([x], [y], ([dy]) => [reluBackward(dy!, y.value)]);
  return y;
}

/** relu(a + b), the end of a residual block; both inputs receive the same gradient. */
export function addRelu(tape: Tape, a: Var, b: Var): Var {
  const y = tape.output(addReluForward(a.value, b.value), [a, b]);
  tape.record([a, b], [y], ([dy]) => {
    const g = reluBackward(dy!, y.value);
    return [a.requiresGrad ? g : null, b.requiresGrad ? (a.requiresGrad ? clone(g) : g) : null];
  });
  return y;
}

export function maxPool(tape: Tape, x: Var, options: MaxPoolOptions = {}): Var {
  const { y, argmax } = maxPool2d(x.value, options);
  const out = tape.output(y, [x]);
  tape.record([x], [out], ([dy]) => [maxPool2dBackward(dy!, argmax, x.shape, options)], [argmax]);
  return out;
}

export function globalAvgPool(tape: Tape, x: Var): Var {
  const y = tape.output(avgPoolForward(x.value), [x]);
  tape.record([x], [y], ([dy]) => [globalAvgPoolBackward(dy!, x.shape)]);
  return y;
}

export function linear(tape: Tape, x: Var, weight: Var, bias: Var | null): Var {
  const { y, saved } = linearForward(x.value, weight.value, bias?.value ?? null);
  const inputs = bias ? [x, weight, bias] : [x, weight];
  const out = tape.output(y, inputs);
  tape.record(inputs, [out], ([dy]) => {
    const { dx, dWeight, dBias } = linearBackward(dy!, saved);
    return bias ? [dx, dWeight, dBias] : [dx, dWeight];
  });
  return out;
}

export interface CrossEntropyOutput {
  /** [1] mean loss, differentiable. */
  loss: Var;
  /** [rows] per-sample loss, [rows] u32 prediction and [rows] 1/0 correctness: owned by the caller. */
  perSample: Tensor;
  predicted: Tensor;
  correct: Tensor;
  /** Frees perSample, predicted and correct, except `keep` (the loss Var belongs to the tape). */
  dispose(keep?: Tensor): void;
}

/** Mean softmax cross-entropy over the rows, with optional label smoothing. */
export function crossEntropy(tape: Tape, logits: Var, labels: Tensor, options: { labelSmoothing?: number } = {}): CrossEntropyOutput {
  const result = softmaxCrossEntropy(logits.value, labels, options);
  const loss = tape.output(result.meanLoss, [logits]);
  tape.record([logits], [loss], ([dLoss]) => [softmaxCrossEntropyBackward(result.saved, { dloss: dLoss!, scale: 1 / labels.size })], [result.saved.lse]);
  return {
    loss, perSample: result.loss, predicted: result.predicted, correct: result.correct,
    dispose(keep) { for (const t of [this.perSample, this.predicted, this.correct]) if (t !== keep) t.dispose(); },
  };
}
