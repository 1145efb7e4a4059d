// Selectors by name, for the CLI and the comparison runs: `createSelector('jest', { chunks: 16 })`.
import { JestSelector } from './jest.ts';
import { LossSelector } from './loss.ts';
import { NoneSelector } from './none.ts';
import { RandomSelector } from './random.ts';
import { RhoSelector } from './rho.ts';
import { SalnSelector } from './saln.ts';
import type { Selector } from './types.ts';

export const SELECTOR_NAMES = ['none', 'random', 'loss', 'rho', 'jest', 'saln'] as const;
export type SelectorName = typeof SELECTOR_NAMES[number];

const FACTORIES: Record<SelectorName, (options: Record<string, unknown>) => Selector> = {
  none: (options) => new NoneSelector(options),
  random: (options) => new RandomSelector(options),
  loss: (options) => new LossSelector(options),
  rho: (options) => new RhoSelector(options),
  jest: (options) => new JestSelector(options),
  // SalnSelector checks its own options (affinity, temperature, laplacian, rule, lanczosSteps, ...).
  saln: (options) => new SalnSelector(options as unknown as ConstructorParameters<typeof SalnSelector>[0]),
};

export function isSelectorName(name: string): name is SelectorName {
  return (SELECTOR_NAMES as readonly string[]).includes(name);
}

/**
 * The selector called `name`, built from `options` (an object of option values, already parsed: numbers as
 * numbers). An unknown name, an unknown option or a bad value is a one-line error.
 */
export function createSelector(name: string, options: Record<string, unknown> = {}): Selector {
  if (!isSelectorName(name)) throw new Error(`unknown selector '${name}'; choose one of ${SELECTOR_NAMES.join(', ')}`);
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new Error(`${name} selector: options must be an object`);
  }
  return FACTORIES[name](options);
}
