// The accidents of a real machine, each caused here: the disk fills while a checkpoint is written (a write hook
// fails with ENOSPC at a chosen byte), --out is a file or read-only, and SIGTERM arrives (once: a checkpoint at
// the step boundary; twice: exit at once).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readCheckpoint } from '../src/train/checkpoint.ts';
import { readMetrics } from '../src/train/metrics.ts';
import { BIN, removeTempDirs, saln, tempDir, TINY } from './saln-cli.ts';

const HOOK = fileURLToPath(new URL('./fixtures/enospc-hook.mjs', import.meta.url));
const stepOf = (dir: string) => Number(readCheckpoint(dir).trainer.metadata.step);
/** The one `saln:` line a failure prints (training's own progress lines aside). */
const errorLines = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('saln: '));

// One epoch of TINY: 4 steps, a checkpoint at step 4. Each disk-full case starts from a copy of it.
const base = tempDir('saln-accident-');
assert.is(saln(['train', ...TINY, '--epochs', '1', '--out', base]).status, 0);

for (const [file, at] of [['model.safetensors.next', 3000], ['trainer.safetensors', 200]] as const) {
  test(`the disk fills while ${file} is written: one line with the bytes needed; step 4 still loads and --resume continues`, () => {
    const out = tempDir('saln-enospc-');
    cpSync(base, out, { recursive: true });
    const full = saln(['train', '--resume', out, '--epochs', '2', '--checkpoint-every', '2'], {
      NODE_OPTIONS: `--import ${HOOK}`, SALN_TEST_ENOSPC_MATCH: `${file}.tmp-`, SALN_TEST_ENOSPC_AT: String(at),
    });
    assert.is(full.status, 1, full.stderr);
    const lines = errorLines(full.stderr);
    assert.is(lines.length, 1, full.stderr);
    const needed = new RegExp(`^saln: cannot write ${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/${file.replace('.', '\\.')}: the disk is full \\(ENOSPC\\): it needs ([\\d,]+) bytes.*, [\\d,]+ bytes.* are free on its file system; free some space \\(or pass another --out\\) and run again; the checkpoint of step 4 in .* is whole: 'saln train --resume .*' continues from it$`);
    const match = needed.exec(lines[0]);
    assert.ok(match, lines[0]);

    // Nothing half-written is left as if it were whole: no temp file; the previous checkpoint is what loads.
    const left = readdirSync(out);
    assert.equal(left.filter((name) => name.includes('.tmp-')), [], `left behind: ${left}`);
    assert.is(stepOf(out), 4);
    assert.not.ok(existsSync(join(out, 'model.safetensors.next')), 'an uncommitted model is dropped on load');

    const resumed = saln(['train', '--resume', out, '--epochs', '2', '--checkpoint-every', '2']);
    assert.is(resumed.status, 0, resumed.stderr);
    assert.match(resumed.stderr, /resuming .* at step 4 /);
    assert.is(stepOf(out), 8);
    // The size named in the message is the size of that file as it is written when there is room.
    const written = statSync(join(out, file === 'trainer.safetensors' ? 'trainer.safetensors' : 'model.safetensors')).size;
    assert.is(Number(match![1].replace(/,/g, '')), written);
  });
}

test('--out that is a file, under a file, or read-only: refused (exit 2) before any data is read', () => {
  const dir = tempDir();
  const file = join(dir, 'not-a-dir');
  writeFileSync(file, 'x');
  // No CIFAR-10 is in this empty data directory: reading the data first would fail with another message.
  const empty = join(dir, 'empty');
  mkdirSync(empty);
  const noData = ['--dataset', 'cifar10', '--data-dir', empty];
  for (const command of ['train', 'compare']) {
    const r = saln([command, ...noData, '--out', file]);
    assert.is(r.status, 2, r.stderr);
    assert.match(errorLines(r.stderr)[0], new RegExp(`^saln: ${command}: --out .*not-a-dir is a file, not a directory; pass a directory`));
    const under = saln([command, ...noData, '--out', join(file, 'run')]);
    assert.is(under.status, 2);
    assert.match(errorLines(under.stderr)[0], /cannot create --out .*not-a-dir\/run \(ENOTDIR: a parent is a file\); pass a writable directory/);
  }
  // Read-only: a read-only tmpfs where mounting is allowed (root ignores permission bits), else permissions.
  const readOnly = join(dir, 'read-only');
  mkdirSync(readOnly);
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=64k', 'tmpfs', readOnly]).status === 0;
  try {
    if (!mounted) {
      if (process.getuid?.() === 0) { console.warn('read-only --out case skipped: root and no mount'); return; }
      spawnSync('chmod', ['555', readOnly]);
    }
    const r = saln(['train', ...noData, '--out', readOnly]);
    assert.is(r.status, 2, r.stderr);
    assert.match(errorLines(r.stderr)[0], /^saln: train: --out .*read-only is not writable \((EROFS|EACCES)\); pass a writable directory$/);
    assert.not.ok(/cifar/i.test(r.stderr), 'refused before the data was looked at');
  } finally {
    if (mounted) spawnSync('umount', [readOnly]);
  }
});

/** A TINY run of 3 epochs, signalled once the first epoch's evaluation is logged (again once each signal is seen). */
async function signalled(out: string, signals: NodeJS.Signals[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, 'train', ...TINY, '--epochs', '3', '--out', out], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '', stderr = '';
  child.stdout.on('data', (chunk) => { stdout += chunk; });
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  const code = await new Promise<number | null>((resolve) => {
    // Each signal after the previous one was seen: two sent at once can merge into one pending signal.
    let sent = 0;
    const timer = setInterval(() => {
      if (!stderr.includes('epoch 1: test accuracy')) return;
      if (sent === 0 || stderr.includes(`interrupted (${signals[sent - 1]})`)) child.kill(signals[sent++]);
      if (sent === signals.length) clearInterval(timer);
    }, 5);
    child.on('exit', (c) => { clearInterval(timer); resolve(c); });
  });
  return { code, stdout, stderr };
}

test('SIGTERM: the step finishes, a checkpoint is saved at its boundary, exit 143; a second SIGTERM exits at once', async () => {
  const out = tempDir();
  const once = await signalled(out, ['SIGTERM']);
  assert.is(once.code, 143, once.stderr);
  assert.match(once.stderr, /interrupted \(SIGTERM\): finishing this step and saving a checkpoint/);
  assert.match(once.stdout, /"stoppedEarly":true/);
  const steps = readMetrics(join(out, 'metrics.jsonl')).records.filter((r) => r.kind === 'step').map((r) => r.step as number);
  assert.is(stepOf(out), Math.max(...steps), 'the checkpoint is of the last step run');
  assert.ok(stepOf(out) < 12, 'stopped before the end');
  const resumed = saln(['train', '--resume', out, '--epochs', '3']);
  assert.is(resumed.status, 0);
  assert.is(stepOf(out), 12);

  const twice = tempDir();
  const quick = await signalled(twice, ['SIGTERM', 'SIGTERM']);
  assert.is(quick.code, 143);
  assert.not.match(quick.stdout, /stoppedEarly/, 'no orderly finish: it exited at the second signal');
  assert.is(stepOf(twice), 4, 'the epoch-end checkpoint is intact');
});

test.after(removeTempDirs);
test.run();
