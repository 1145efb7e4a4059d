// `--augment flip,crop,rotate,jitter` (or none): the flag's text to the registry's augmentation names.
import { AUGMENTATIONS, type AugmentName } from '../../datasets/registry.ts';
import { UsageError } from '../util/errors.ts';

export function parseAugment(text: string): AugmentName[] {
  const names: AugmentName[] = [];
  for (const item of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    if (item === 'none') continue;
    if (!(AUGMENTATIONS as readonly string[]).includes(item)) {
      throw new UsageError(`--augment: unknown '${item}'; use a comma list of ${AUGMENTATIONS.join(', ')}, or none`);
    }
    names.push(item as AugmentName);
  }
  return names;
}
