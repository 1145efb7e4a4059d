// Fashion-MNIST (Xiao et al. 2017): 28x28 grey images of 10 clothing classes, 60000 train / 10000 test, in
// the MNIST IDX layout. Debian's dataset-fashion-mnist (installed by `npm run setup`) ships the gzipped files.
import { loadIdxPair } from './idx.ts';
import type { LabelledImages } from './images.ts';

export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

/** Label order of the original release (labels are indices into this list). */
export const FASHION_MNIST_CLASSES = [
  'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot',
];

export type FashionMnistSplit = 'train' | 'test';

// The test split keeps MNIST's "t10k" prefix.
const FILE_PREFIX: Record<FashionMnistSplit, string> = { train: 'train', test: 't10k' };

/** Images as uint8 NHWC [count, 28, 28, 1]; `limit` keeps the first N samples. */
export function loadFashionMnist(dir: string = FASHION_MNIST_DIR, split: FashionMnistSplit = 'train', options: { limit?: number } = {}): LabelledImages {
  const prefix = FILE_PREFIX[split];
  if (!prefix) throw new Error(`Fashion-MNIST: unknown split '${split}' (expected train or test)`);
  return loadIdxPair({
    dataset: 'Fashion-MNIST',
    dir,
    imagesFile: `${prefix}-images-idx3-ubyte`,
    labelsFile: `${prefix}-labels-idx1-ubyte`,
    classes: FASHION_MNIST_CLASSES,
    height: 28,
    width: 28,
    installHint: "run 'npm run setup' (it installs Debian's dataset-fashion-mnist there)",
    limit: options.limit,
  });
}
