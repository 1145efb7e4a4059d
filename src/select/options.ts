// Checks on selector constructor options: every mistake is a one-line error naming the selector, the option and
// what it accepts, so a typo on the command line does not silently fall back to a default.

export type OptionBag = Record<string, unknown>;

/** Throws if `options` is not a plain object or holds a key outside `known`. */
export function checkOptionKeys(selector: string, options: unknown, known: readonly string[]): asserts options is OptionBag {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new Error(`${selector} selector: options must be an object, got ${describe(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      const accepted = known.length ? `it accepts ${known.join(', ')}` : 'it takes no options';
      throw new Error(`${selector} selector: unknown option '${key}'; ${accepted}`);
    }
  }
}

export function positiveInteger(selector: string, key: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new Error(`${selector} selector: option ${key} must be a positive integer, got ${describe(value)}`);
  }
  return value;
}

export function positiveNumber(selector: string, key: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new Error(`${selector} selector: option ${key} must be a positive finite number, got ${describe(value)}`);
  }
  return value;
}

export function nonNegativeNumber(selector: string, key: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new Error(`${selector} selector: option ${key} must be a non-negative finite number, got ${describe(value)}`);
  }
  return value;
}

export function oneOf<T extends string>(selector: string, key: string, value: unknown, choices: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !(choices as readonly string[]).includes(value)) {
    throw new Error(`${selector} selector: option ${key} must be one of ${choices.join(', ')}, got ${describe(value)}`);
  }
  return value as T;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return `'${value}' (a string)`;
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  return typeof value === 'object' ? 'an object' : String(value);
}
