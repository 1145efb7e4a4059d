// The README's library example runs as written, through the package's own exports (`from 'saln'`, i.e. dist/).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

test('the README library example trains and prints its result', () => {
  const readme = readFileSync(`${root}/README.md`, 'utf8');
  const block = /<!-- readme-example -->\s*```js\n([\s\S]*?)```/.exec(readme);
  assert.ok(block, 'README.md has no example block');
  // Inside the package, so that 'saln' resolves to this package by its own name.
  const file = `${root}/test/.readme-example.mjs`;
  writeFileSync(file, block![1]);
  try {
    const r = spawnSync(process.execPath, [file], { cwd: root, encoding: 'utf8', timeout: 300_000 });
    assert.is(r.status, 0, r.stderr);
    const last = JSON.parse(r.stdout.trim().split('\n').pop()!);
    assert.is(last.steps, 8);
    assert.ok(last.accuracy >= 0 && last.accuracy <= 1);
  } finally {
    rmSync(file, { force: true });
    rmSync(`${root}/runs/readme-example`, { recursive: true, force: true });
  }
});

test.run();
