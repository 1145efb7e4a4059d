// Assertions shared by the tests.
import * as assert from 'uvu/assert';

function oneLine(error: unknown, pattern: RegExp): void {
  const message = (error as Error).message;
  assert.not.match(message, /\n/, 'one line');
  assert.match(message, pattern);
}

/** `fn` throws an error whose message is one line (users see one line) and matches `pattern`. */
export function throwsOneLine(fn: () => unknown, pattern: RegExp): void {
  try {
    fn();
  } catch (e) {
    return oneLine(e, pattern);
  }
  assert.unreachable(`expected an error matching ${pattern}`);
}

/** The async twin of throwsOneLine: `fn` rejects with a one-line message matching `pattern`. */
export async function rejectsOneLine(fn: () => Promise<unknown>, pattern: RegExp): Promise<void> {
  try {
    await fn();
  } catch (e) {
    return oneLine(e, pattern);
  }
  assert.unreachable(`expected an error matching ${pattern}`);
}
