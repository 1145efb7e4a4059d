// Standard training: every candidate is back-propagated. The keep count is ignored on purpose: with this selector
// the trainer should not draw a larger super-batch at all (its super-batch is the training batch, ratio 1) and
// should skip the scoring forward (it needs nothing), so `none` costs exactly a plain training step.
import { checkSelectionInput } from './common.ts';
import { checkOptionKeys } from './options.ts';
import type { SelectionInput, SelectionResult, Selector, SelectorNeeds } from './types.ts';

export class NoneSelector implements Selector {
  readonly name = 'none';
  readonly needs: SelectorNeeds = {};
  /** Returns all batchSize candidates whatever `keep` says (the one selector that breaks the keep contract). */
  readonly keepsAll = true;

  constructor(options: Record<string, unknown> = {}) {
    checkOptionKeys(this.name, options, []);
  }

  async select(input: SelectionInput): Promise<SelectionResult> {
    checkSelectionInput(this.name, input);
    return { indices: Uint32Array.from({ length: input.batchSize }, (_, i) => i) };
  }
}
