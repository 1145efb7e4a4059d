// Every family's validation cases, in the order `saln validate` prints them. A new kernel family adds its own
// file beside this one and one line here.
import type { MatmulVariant } from '../ops/matmul.ts';
import { fillCases, gatherCases } from './fill.ts';
import { elementwiseCases } from './elementwise.ts';
import { reduceCases } from './reduce.ts';
import { transposeCases } from './transpose.ts';
import { matmulCases } from './matmul.ts';
import { rngCases } from './random.ts';
import { convCases } from './conv.ts';
import { batchNormCases } from './batchnorm.ts';
import { poolCases } from './pool.ts';
import { reluCases } from './relu.ts';
import { lossCases } from './loss.ts';
import { linearCases } from './linear.ts';
import { optimizerCases } from './optimizer.ts';
import { augmentCases } from './augment.ts';
import { graphCases, knnCases } from './graph.ts';
import { lanczosCases } from './lanczos.ts';
import { MATMUL_VARIANTS } from '../ops/matmul.ts';
import type { ValidationCase } from './define.ts';

export type { CaseResult, ValidationCase } from './define.ts';

export function allCases(options: { variants?: readonly MatmulVariant[] } = {}): ValidationCase[] {
  return [
    ...fillCases(),
    ...gatherCases(),
    ...elementwiseCases(),
    ...reduceCases(),
    ...transposeCases(),
    ...matmulCases(options.variants ?? MATMUL_VARIANTS),
    ...rngCases(),
    ...convCases(options.variants ?? MATMUL_VARIANTS),
    ...batchNormCases(),
    ...poolCases(),
    ...reluCases(),
    ...lossCases(),
    ...linearCases(),
    ...optimizerCases(),
    ...augmentCases(),
    ...graphCases(),
    ...lanczosCases(),
    ...knnCases(),
  ];
}
