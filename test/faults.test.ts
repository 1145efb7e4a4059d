// Faults injected into real `saln train` runs: a lost device, NaN in an activation or the loss, an infinite
// gradient, a buffer beyond the adapter's limits. Each must stop the run with one line naming the cause, keep
// the last good checkpoint untouched, and (lost device) resume to the losses of an uninterrupted run.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { readMetrics } from '../src/train/metrics.ts';
import { readSafetensors } from '../src/train/safetensors.ts';
import { removeTempDirs, saln, tempDir, TINY } from './saln-cli.ts';

const stepLosses = (dir: string) => readMetrics(join(dir, 'metrics.jsonl')).records.filter((r) => r.kind === 'step').map((r) => [r.step, r.loss]);
const lastLine = (text: string) => text.trim().split('\n').at(-1)!;

test('a lost device stops the run naming the last good checkpoint; --resume gives the uninterrupted losses', () => {
  const whole = tempDir();
  assert.is(saln(['train', ...TINY, '--epochs', '3', '--out', whole]).status, 0);
  const out = tempDir();
  const lost = saln(['train', ...TINY, '--epochs', '3', '--out', out, '--checkpoint-every', '3', '--inject', 'device-lost@7']);
  assert.is(lost.status, 1, lost.stderr);
  assert.match(lastLine(lost.stderr), new RegExp(`^saln: GPU device lost at step 7 \\(destroyed.*\\); the last good checkpoint \\(step 6\\) in ${out} is kept: continue with 'saln train --resume ${out}'$`));
  assert.is(readSafetensors(join(out, 'model.safetensors')).metadata.step, '6');
  const resumed = saln(['train', '--resume', out]);
  assert.is(resumed.status, 0, resumed.stderr);
  assert.equal(stepLosses(out), stepLosses(whole));
});

test('NaN in an activation names the layer and the step and keeps the checkpoint', () => {
  const out = tempDir();
  const r = saln(['train', ...TINY, '--epochs', '2', '--out', out, '--checkpoint-every', '2', '--inject', 'nan-activation:layer2.0.conv1@5']);
  assert.is(r.status, 1, r.stderr);
  assert.match(lastLine(r.stderr), /^saln: NaN in the output of layer2\.0\.conv1 at step 5 \(epoch 2\); training stopped and the last good checkpoint \(step 4\) in .* is kept/);
  assert.is(readSafetensors(join(out, 'model.safetensors')).metadata.step, '4');
  assert.is(readSafetensors(join(out, 'trainer.safetensors')).metadata.step, '4');
});

test('an infinite gradient names the parameter', () => {
  const out = tempDir();
  const r = saln(['train', ...TINY, '--epochs', '1', '--out', out, '--inject', 'inf-gradient:layer3.1.bn2.weight@2']);
  assert.is(r.status, 1, r.stderr);
  assert.match(lastLine(r.stderr), /^saln: Inf in the gradient of layer3\.1\.bn2\.weight at step 2 \(epoch 1\); training stopped and no checkpoint was saved yet/);
});

test('a batch beyond the adapter\'s buffer limits: the buffer, its size, the limit and a batch size that fits', () => {
  const out = tempDir();
  const limit = String(512 * 1024);
  const r = saln(['train', ...TINY, '--epochs', '1', '--out', out, '--batch-size', '256', '--limit', '256'], { SALN_MEMORY_LIMIT: limit });
  assert.is(r.status, 1, r.stderr);
  const line = lastLine(r.stderr);
  const m = /^saln: .*f32\[256,[\d,]+\].* ([\d.]+ [KM]iB), above this adapter's max\w+ of 512\.0 KiB; --batch-size 256 is too big for this adapter: use --batch-size (\d+) or less$/.exec(line);
  assert.ok(m, line);
  const fits = saln(['train', ...TINY, '--epochs', '1', '--out', out, '--batch-size', m![2], '--limit', String(2 * Number(m![2]))], { SALN_MEMORY_LIMIT: limit });
  assert.is(fits.status, 0, `the suggested batch size does not fit: ${lastLine(fits.stderr)}`);
});

test('bad --inject specs are usage errors', () => {
  for (const spec of ['nan-activation@3', 'device-lost:x@3', 'melt@1', 'nan-loss']) {
    const r = saln(['train', ...TINY, '--inject', spec]);
    assert.is(r.status, 2, spec);
    assert.match(r.stderr, /--inject/);
  }
});

test.after(removeTempDirs);
test.run();
