// Argument parsing for the command lines (saln's sub-commands, the bench) on node:util's parseArgs, with errors
// that say what to type instead.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './errors.ts';

export { UsageError };

export const GLOBAL_OPTIONS = {
  adapter: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Options = NonNullable<ParseArgsConfig['options']>;
export type Parsed<T extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: typeof GLOBAL_OPTIONS & T; allowPositionals: boolean; strict: true }>>;

export function parse<T extends Options>(command: string, argv: string[], options: T, allowPositionals = false): Parsed<T> {
  const all: Options = { ...GLOBAL_OPTIONS, ...options };
  // parseArgs calls `--lr -0.1` ambiguous (is -0.1 a flag?); a negative number is a value, and the flag's own
  // check then says what range it takes.
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i], next = argv[i + 1];
    const takesValue = arg.startsWith('--') && !arg.includes('=') && all[arg.slice(2)]?.type === 'string';
    if (takesValue && next !== undefined && /^-(\d|\.\d)/.test(next)) {
      args.push(`${arg}=${next}`);
      i++;
    } else {
      args.push(arg);
    }
  }
  try {
    return parseArgs({ args, options: all, allowPositionals, strict: true }) as Parsed<T>;
  } catch (e) {
    const error = e as NodeJS.ErrnoException;
    let problem = error.message.split('\n')[0];
    if (error.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      // parseArgs goes on about positionals that start with '-'; the likely cause is a typo, so name the nearest flag.
      const flag = /'([^']+)'/.exec(problem)?.[1] ?? problem;
      const near = nearest(flag.replace(/^-+/, '').split('=')[0], Object.keys({ ...GLOBAL_OPTIONS, ...options }));
      problem = `Unknown option '${flag}'${near ? ` (did you mean --${near}?)` : ''}`;
    }
    throw new UsageError(`${command}: ${problem}; run 'saln ${command} --help'`);
  }
}

/** The known flag within two edits of `typed` (a typo), if there is one. */
function nearest(typed: string, known: string[]): string | undefined {
  let best: string | undefined, bestDistance = 3;
  for (const name of known) {
    const distance = editDistance(typed, name);
    if (distance < bestDistance) { best = name; bestDistance = distance; }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = row;
  }
  return previous[b.length];
}
