// Flags that `saln eval` and `saln predict` share: which model, and what a bare weights file (one PyTorch saved,
// with no run beside it) cannot say about itself.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { UsageError } from '../util/args.ts';
import { numberFlag } from './run-options.ts';
import type { ModelOverrides } from '../train/inference.ts';

export const MODEL_OPTIONS = {
  model: { type: 'string' }, classes: { type: 'string' }, 'class-names': { type: 'string' }, 'image-size': { type: 'string' },
  mean: { type: 'string' }, std: { type: 'string' }, 'batch-size': { type: 'string', default: '64' }, json: { type: 'boolean' },
} as const;

export const MODEL_HELP = `model
  --model DIR|FILE        a run's --out directory (preprocessing read from its checkpoint), or a model.safetensors
                          in torchvision's layout (ours, or saved by PyTorch: pass --classes)
  --classes N             the class count the model must have (required for a bare weights file)
  --class-names LIST|FILE comma list, or a file with one name a line (default: the run's, else 'class k')
  --image-size N          side of the model's input (bare weights file: 224 for a 7x7 stem, 32 for a 3x3 one)
  --mean A,B,C --std A,B,C  per-channel normalisation on 0..1 (bare weights file: ImageNet's)
  --batch-size N          images per forward (default 64)`;

type Values = { [K in keyof typeof MODEL_OPTIONS]?: typeof MODEL_OPTIONS[K] extends { type: 'boolean' } ? boolean : string };

export function modelOverrides(command: string, values: Values): ModelOverrides {
  if (!values.model) throw new UsageError(`${command}: --model DIR is required (the --out directory of 'saln train', or a model.safetensors file)`);
  const overrides: ModelOverrides = {};
  if (values.classes !== undefined) overrides.classes = numberFlag(command, 'classes', values.classes, 'positiveInteger');
  if (values['image-size'] !== undefined) overrides.imageSize = numberFlag(command, 'image-size', values['image-size'], 'positiveInteger');
  for (const flag of ['mean', 'std'] as const) {
    if (values[flag] === undefined) continue;
    const numbers = values[flag]!.split(',').map((text) => numberFlag(command, flag, text.trim(), flag === 'std' ? 'positive' : 'nonNegative'));
    overrides[flag] = numbers;
  }
  const names = values['class-names'];
  if (names !== undefined) {
    const list = existsSync(names) && statSync(names).isFile() ? readFileSync(names, 'utf8').split(/\r?\n/) : names.split(',');
    overrides.classNames = list.map((n) => n.trim()).filter(Boolean);
    if (overrides.classNames.length === 0) throw new UsageError(`${command}: --class-names ${names} holds no names`);
  }
  return overrides;
}
