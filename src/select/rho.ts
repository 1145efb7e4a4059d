// RHO-LOSS (Mindermann et al. 2022): keep the candidates with the highest reducible loss, learner loss minus the
// loss of a reference ("irreducible loss") model, i.e. learnable but not yet learnt, and neither noisy nor
// unlearnable (those stay high for the reference too). JEST's learnability taken per sample, top-k, no sampling.
import { ascending, checkSelectionInput, rankTopK, readLossVector } from './common.ts';
import { checkOptionKeys } from './options.ts';
import type { SelectionInput, SelectionResult, Selector, SelectorNeeds } from './types.ts';

/** learner - reference per candidate, in float64 (the difference of two f32 values is then exact in practice). */
export function learnability(learnerLoss: ArrayLike<number>, referenceLoss: ArrayLike<number>): Float64Array {
  return Float64Array.from({ length: learnerLoss.length }, (_, i) => learnerLoss[i] - referenceLoss[i]);
}

export class RhoSelector implements Selector {
  readonly name = 'rho';
  readonly needs: SelectorNeeds = { learnerLoss: true, referenceLoss: true };

  constructor(options: Record<string, unknown> = {}) {
    checkOptionKeys(this.name, options, []);
  }

  async select(input: SelectionInput): Promise<SelectionResult> {
    checkSelectionInput(this.name, input);
    const [learnerLoss, referenceLoss] = await Promise.all([
      readLossVector(this.name, input, 'learnerLoss'), readLossVector(this.name, input, 'referenceLoss'),
    ]);
    const scores = learnability(learnerLoss, referenceLoss);
    return { indices: ascending(rankTopK(scores, input.keep)), scores: Float32Array.from(scores) };
  }
}
