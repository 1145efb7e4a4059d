// MNIST (LeCun et al.): 28x28 grey digits, 60000 train / 10000 test, the IDX layout Fashion-MNIST copied.
import { loadIdxPair } from './idx.ts';
import type { LabelledImages } from './images.ts';

const FILE_PREFIX = { train: 'train', test: 't10k' } as const;

export function loadMnist(dir: string, split: 'train' | 'test' = 'train', options: { limit?: number } = {}): LabelledImages {
  const prefix = FILE_PREFIX[split];
  return loadIdxPair({
    dataset: 'MNIST', dir,
    imagesFile: `${prefix}-images-idx3-ubyte`, labelsFile: `${prefix}-labels-idx1-ubyte`,
    classes: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'], height: 28, width: 28,
    installHint: "run 'saln data download mnist'",
    limit: options.limit,
  });
}
