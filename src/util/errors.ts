// Errors every room may raise. A UsageError is the caller's mistake (a flag, a name, an option): the CLI prints
// it as one line with the command's usage, and the library raises it where a bad value names what to type
// instead (an unknown data set, schedule or augmentation).

export class UsageError extends Error {
  override name = 'UsageError';
}
