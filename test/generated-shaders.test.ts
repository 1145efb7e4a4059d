// The generated subgroup kernels are committed (the engine loads them as they are): they must be exactly what
// scripts/gen-subgroup-kernels.mjs writes today, or an edit to one side was not carried to the other.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
// @ts-expect-error: a plain .mjs script without type declarations
import { generatedShaders } from '../scripts/gen-subgroup-kernels.mjs';

test('shaders/{matmul,conv}_subgroup.wgsl are what the generator writes', () => {
  const files = generatedShaders() as Record<string, string>;
  assert.equal(Object.keys(files).sort(), ['shaders/conv_subgroup.wgsl', 'shaders/matmul_subgroup.wgsl']);
  for (const [path, text] of Object.entries(files)) {
    const committed = readFileSync(fileURLToPath(new URL(`../${path}`, import.meta.url)), 'utf8');
    assert.ok(committed === text, `${path} differs from the generator's output: run node scripts/gen-subgroup-kernels.mjs`);
  }
});

test.run();
