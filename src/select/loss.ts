// Loss-based selection (Loshchilov and Hutter 2015; Selective-Backprop, Jiang et al. 2019): back-propagate the
// keep candidates the learner currently gets most wrong. Deterministic: ties go to the lower index.
import { ascending, checkSelectionInput, rankTopK, readLossVector } from './common.ts';
import { checkOptionKeys } from './options.ts';
import type { SelectionInput, SelectionResult, Selector, SelectorNeeds } from './types.ts';

export class LossSelector implements Selector {
  readonly name = 'loss';
  readonly needs: SelectorNeeds = { learnerLoss: true };

  constructor(options: Record<string, unknown> = {}) {
    checkOptionKeys(this.name, options, []);
  }

  async select(input: SelectionInput): Promise<SelectionResult> {
    checkSelectionInput(this.name, input);
    const learnerLoss = await readLossVector(this.name, input, 'learnerLoss');
    return { indices: ascending(rankTopK(learnerLoss, input.keep)), scores: learnerLoss };
  }
}
