// Argument parsing for sub-commands on node:util's parseArgs, with errors that say what to type instead.
import { parseArgs, type ParseArgsConfig } from 'node:util';

export class UsageError extends Error {
  override name = 'UsageError';
}

export const GLOBAL_OPTIONS = {
  adapter: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Options = NonNullable<ParseArgsConfig['options']>;
export type Parsed<T extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: typeof GLOBAL_OPTIONS & T; allowPositionals: boolean; strict: true }>>;

export function parse<T extends Options>(command: string, argv: string[], options: T, allowPositionals = false): Parsed<T> {
  try {
    return parseArgs({ args: argv, options: { ...GLOBAL_OPTIONS, ...options }, allowPositionals, strict: true }) as Parsed<T>;
  } catch (e) {
    throw new UsageError(`${command}: ${(e as Error).message.split('\n')[0]}; run 'saln ${command} --help'`);
  }
}
