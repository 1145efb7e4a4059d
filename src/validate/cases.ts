// Every family's validation cases, in the order `saln validate` prints them. A new kernel family adds its own
// file beside this one and one line here.
import type { MatmulVariant } from '../ops/matmul.ts';
import { basicCases } from './basic.ts';
import { convCases } from './conv.ts';
import { augmentCases } from './augment.ts';
import { normPoolCases } from './norm_pool.ts';
import { lossOptimCases } from './loss_optim.ts';
import { graphCases, knnCases } from './graph.ts';
import { lanczosCases } from './lanczos.ts';
import { MATMUL_VARIANTS } from '../ops/matmul.ts';
import type { ValidationCase } from './define.ts';

export type { CaseResult, ValidationCase } from './define.ts';

export function allCases(options: { variants?: readonly MatmulVariant[] } = {}): ValidationCase[] {
  return [
    ...basicCases(options),
    ...convCases(options.variants ?? MATMUL_VARIANTS),
    ...normPoolCases(),
    ...lossOptimCases(),
    ...augmentCases(),
    ...graphCases(),
    ...lanczosCases(),
    ...knnCases(),
  ];
}
