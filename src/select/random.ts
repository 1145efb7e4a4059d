// The control every selector has to beat: a uniform random subset of size keep, drawn from the selection stream
// of (seed, step), so a rerun or a resumed run keeps the same samples.
import { ascending, checkSelectionInput, selectionRandom } from './common.ts';
import { checkOptionKeys } from './options.ts';
import type { SelectionInput, SelectionResult, Selector, SelectorNeeds } from './types.ts';

/** The first `keep` places of a Fisher-Yates shuffle of 0..batchSize-1 (each keep-subset equally likely). */
export function uniformSubset(batchSize: number, keep: number, seed: number, step: number): Uint32Array {
  const random = selectionRandom(seed, step);
  const order = Uint32Array.from({ length: batchSize }, (_, i) => i);
  for (let i = 0; i < keep; i++) {
    const j = i + Math.floor(random.next() * (batchSize - i));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return ascending(order.subarray(0, keep));
}

export class RandomSelector implements Selector {
  readonly name = 'random';
  readonly needs: SelectorNeeds = {};

  constructor(options: Record<string, unknown> = {}) {
    checkOptionKeys(this.name, options, []);
  }

  async select(input: SelectionInput): Promise<SelectionResult> {
    checkSelectionInput(this.name, input);
    return { indices: uniformSubset(input.batchSize, input.keep, input.seed, input.step) };
  }
}
