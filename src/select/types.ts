// The selector interface: given a super-batch of B candidates (and what the selector asks for: features,
// per-sample losses of the learner or of a reference model), return the k = ratio * B indices to back-propagate.
import type { Runtime } from '../gpu/runtime.ts';
import type { Tensor } from '../tensor.ts';

export interface SelectorNeeds {
  /** Penultimate-layer features [B, F]: of the learner (free, from its no-grad forward) or a frozen reference. */
  features?: 'learner' | 'reference';
  /** Per-sample loss of the learner [B] (a no-grad forward). */
  learnerLoss?: boolean;
  /** Per-sample loss of the reference model [B]. */
  referenceLoss?: boolean;
  /**
   * The learner's per-sample loss remembered from each candidate's last forward (no extra forward: the scores are
   * as old as that forward), as `SelectionInput.staleLoss`.
   */
  staleLoss?: boolean;
}

export interface SelectionInput {
  rt: Runtime;
  /** Candidates in the super-batch. */
  batchSize: number;
  /** How many to keep (1 <= keep <= batchSize). */
  keep: number;
  /** [B] u32 labels. */
  labels: Tensor;
  /** [B, F] f32, when the selector's needs ask for them. */
  features?: Tensor;
  /** [B] f32, when asked for. */
  learnerLoss?: Tensor;
  /** [B] f32, when asked for. */
  referenceLoss?: Tensor;
  /**
   * [B] on the host, when asked for: the learner's loss of each candidate from its last forward; NaN where the
   * candidate was never forwarded (selectors read NaN as the batch mean of the others).
   */
  staleLoss?: Float32Array;
  /** Selection randomness: the same (seed, step) gives the same choice. */
  seed: number;
  step: number;
}

export interface SelectionResult {
  /** Exactly `keep` distinct indices in [0, B), ascending. */
  indices: Uint32Array;
  /** Per-candidate scores the choice was made from (for reports and pictures), when the selector has them. */
  scores?: Float32Array;
  /** Anything worth plotting (e.g. SALN's Fiedler vector and eigenvalues). */
  details?: Record<string, unknown>;
}

export interface Selector {
  readonly name: string;
  readonly needs: SelectorNeeds;
  select(input: SelectionInput): Promise<SelectionResult>;
}
