// Where a NaN or Inf came from, once a step's loss or gradient norm was found non-finite: the step is run
// forward again on the same batch (the fault, if injected, again) checking every named layer's output, then
// the loss, then each parameter's gradient from the failed backward (still in the store: no update ran).
import type { Tensor } from '../tensor.ts';
import { Tape, Var } from '../autograd.ts';
import type { ResNetInstance } from '../nn/resnet.ts';
import { crossEntropy } from '../nn/functional.ts';
import { gradNorm } from '../ops/optimizer.ts';

function kindOf(values: ArrayLike<number>): string {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return Number.isNaN(values[i]) ? 'NaN' : 'Inf';
  return 'NaN/Inf';
}

/** A phrase such as "NaN in the output of layer2.0.bn1" or "Inf in the gradient of fc.weight (and 3 more)". */
export async function locateNonFinite(net: ResNetInstance, x: Tensor, labels: Tensor, probe: ((name: string, v: Var) => void) | undefined): Promise<string> {
  const checks: { name: string; value: Tensor; count: Tensor }[] = [];
  const check = (name: string, value: Tensor) => checks.push({ name, value, count: gradNorm(value).nonFinite });
  check('the input batch', x);
  const tape = new Tape(false);
  const ctx = {
    tape, store: net.store, training: true,
    probe: (name: string, v: Var) => { probe?.(name, v); check(`the output of ${name}`, v.value); },
  };
  const logits = net.model.forward(ctx, new Var(x, false));
  const ce = crossEntropy(tape, logits, labels);
  probe?.('loss', ce.loss);
  check('the loss', ce.loss.value);
  try {
    for (const { name, value, count } of checks) {
      if ((await count.download())[0] !== 0) return `${kindOf(await value.download())} in ${name}`;
    }
  } finally {
    for (const c of checks) c.count.dispose();
    tape.release();
    ce.dispose();
  }
  const grads = await net.store.grads.download();
  const bad: { name: string; kind: string }[] = [];
  for (const spec of net.store.specs) {
    const slot = net.store.slot(spec.name);
    if (spec.kind !== 'parameter' || !slot) continue;
    const values = grads.subarray(slot.offset, slot.offset + slot.size);
    if (values.some((v) => !Number.isFinite(v))) bad.push({ name: spec.name, kind: kindOf(values) });
  }
  if (bad.length === 0) return 'NaN/Inf in the gradient norm';
  // The backward runs from the last layer to the first: the last bad one in model order appeared first.
  const first = bad[bad.length - 1];
  return `${first.kind} in the gradient of ${first.name}${bad.length > 1 ? ` (and ${bad.length - 1} more)` : ''}`;
}
