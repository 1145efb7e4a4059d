// One run per output directory: a second process on a locked --out refuses with the holder's pid; a lock left by
// a process that is gone is taken over with a note; the lock goes on exit, on SIGINT/SIGTERM and on errors, and
// only the holder's own lock is ever removed. Real processes hold the locks (test/fixtures/lock-holder.ts).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { acquireRunLock, LOCK_FILE, RunLockError } from '../src/train/lock.ts';

const HOLDER = fileURLToPath(new URL('./fixtures/lock-holder.ts', import.meta.url));
const BIN = fileURLToPath(new URL('../bin/saln.mjs', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'saln-lock-'));
let serial = 0;
const freshDir = () => join(root, `out-${serial++}`);

interface Holder { child: ChildProcessWithoutNullStreams; first: Promise<string>; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> }

/** Starts a lock holder; `first` is its first line of output ('locked' or 'refused: ...'). */
function holder(dir: string, mode: 'wait' | 'exit' | 'throw' = 'wait'): Holder {
  const child = spawn(process.execPath, ['--import', 'tsx', HOLDER, dir, mode], { cwd: fileURLToPath(new URL('..', import.meta.url)) });
  let out = '';
  const first = new Promise<string>((resolve) => {
    child.stdout.on('data', (chunk) => { out += chunk; if (out.includes('\n')) resolve(out.split('\n')[0]); });
    child.on('close', () => resolve(out.split('\n')[0]));
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  return { child, first, exited };
}

/** A pid that certainly belonged to a process that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

const lockOf = (dir: string) => JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8'));

test('a second process on a locked directory refuses, naming the holder and the directory; saln train and compare too', async () => {
  const dir = freshDir();
  const first = holder(dir);
  assert.is(await first.first, 'locked');
  const pid = first.child.pid!;
  assert.is(lockOf(dir).pid, pid);
  assert.is(lockOf(dir).host, hostname());

  const second = holder(dir, 'exit');
  const line = await second.first;
  assert.match(line, new RegExp(`^refused: ${dir} is in use by process ${pid} \\(started \\d{4}-\\d\\d-\\d\\dT[^)]*\\); wait for it to finish or stop it, or pass another --out$`));
  assert.is((await second.exited).code, 3);
  assert.throws(() => acquireRunLock(dir), (e: Error) => e instanceof RunLockError && e.message.includes(`process ${pid}`) && !e.message.includes('\n'));

  // The real command: refused before the GPU is opened or anything is written, exit 1, one line.
  const compare = spawnSync(process.execPath, [BIN, 'compare', '--dataset', 'synthetic', '--limit', '16', '--test-limit', '8', '--selectors', 'none', '--out', dir], { encoding: 'utf8', timeout: 60_000 });
  assert.is(compare.status, 1, compare.stderr);
  assert.match(compare.stderr, new RegExp(`^saln: ${dir} is in use by process ${pid} \\(started [^)]*\\); wait for it to finish or stop it, or pass another --out\\n$`));
  const train = spawnSync(process.execPath, [BIN, 'train', '--dataset', 'synthetic', '--limit', '16', '--test-limit', '8', '--out', dir], { encoding: 'utf8', timeout: 60_000 });
  assert.is(train.status, 1, train.stderr);
  assert.match(train.stderr, new RegExp(`^saln: ${dir} is in use by process ${pid} \\(started [^)]*\\); wait for it to finish or stop it, or pass another --out\\n$`));

  first.child.stdin.end();
  assert.is((await first.exited).code, 0);
  assert.not.ok(existsSync(join(dir, LOCK_FILE)), 'released at exit');
  acquireRunLock(dir).release();
});

test('a lock whose process is gone is taken over with a note; so is a damaged one', () => {
  const dir = freshDir();
  const notes: string[] = [];
  const stale = { pid: deadPid(), host: hostname(), started: '2020-01-01T00:00:00.000Z' };
  acquireRunLock(dir).release();
  writeFileSync(join(dir, LOCK_FILE), JSON.stringify(stale));
  const lock = acquireRunLock(dir, { onNote: (line) => notes.push(line) });
  assert.equal(notes, [`note: ${dir} was locked by process ${stale.pid} (started 2020-01-01T00:00:00.000Z), which is no longer running; taking the lock over`]);
  assert.is(lockOf(dir).pid, process.pid);
  lock.release();

  writeFileSync(join(dir, LOCK_FILE), '{"pid": 12');
  const damaged = acquireRunLock(dir, { onNote: (line) => notes.push(line) });
  assert.is(notes[1], `note: ${join(dir, LOCK_FILE)} was unreadable; taking the lock over`);
  damaged.release();

  // A live pid that is not the process which took the lock (the machine rebooted and the pid came back).
  if (existsSync('/proc/self/stat')) {
    writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: process.pid, host: hostname(), started: '2020-01-01T00:00:00.000Z', identity: 'another-boot:1' }));
    const reused = acquireRunLock(dir, { onNote: (line) => notes.push(line) });
    assert.match(notes[2], /which is no longer running; taking the lock over$/);
    reused.release();
  }
  assert.not.ok(existsSync(join(dir, LOCK_FILE)));
});

test('a lock from another host is not judged from here: refused, naming the host and the file to delete', () => {
  const dir = freshDir();
  acquireRunLock(dir).release();
  writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: 4242, host: 'elsewhere', started: '2020-01-01T00:00:00.000Z' }));
  assert.throws(() => acquireRunLock(dir), (e: Error) => e.message === `${dir} is in use by process 4242 on host elsewhere (started 2020-01-01T00:00:00.000Z); if that run is gone, delete ${join(dir, LOCK_FILE)}`);
});

test('released on a normal exit, an uncaught error, SIGINT and SIGTERM; SIGKILL leaves a stale lock the next run takes over', async () => {
  const dirs = { exit: freshDir(), error: freshDir(), sigint: freshDir(), sigterm: freshDir(), sigkill: freshDir() };
  const runs = {
    exit: holder(dirs.exit, 'exit'), error: holder(dirs.error, 'throw'),
    sigint: holder(dirs.sigint), sigterm: holder(dirs.sigterm), sigkill: holder(dirs.sigkill),
  };
  for (const run of Object.values(runs)) assert.is(await run.first, 'locked');
  runs.sigint.child.kill('SIGINT');
  runs.sigterm.child.kill('SIGTERM');
  runs.sigkill.child.kill('SIGKILL');
  assert.equal(await runs.exit.exited, { code: 0, signal: null });
  assert.is((await runs.error.exited).code, 1);
  // The signal still ends the process as it would have without the lock.
  assert.equal(await runs.sigint.exited, { code: null, signal: 'SIGINT' });
  assert.equal(await runs.sigterm.exited, { code: null, signal: 'SIGTERM' });
  assert.equal(await runs.sigkill.exited, { code: null, signal: 'SIGKILL' });
  for (const name of ['exit', 'error', 'sigint', 'sigterm'] as const) assert.not.ok(existsSync(join(dirs[name], LOCK_FILE)), `${name}: lock left behind`);
  assert.ok(existsSync(join(dirs.sigkill, LOCK_FILE)), 'SIGKILL cannot be handled');
  const notes: string[] = [];
  acquireRunLock(dirs.sigkill, { onNote: (line) => notes.push(line) }).release();
  assert.match(notes[0], new RegExp(`process ${runs.sigkill.child.pid} .* no longer running; taking the lock over$`));
});

test('a signal the program handles itself (train saves a checkpoint on Ctrl-C) keeps the lock until exit', () => {
  const dir = freshDir();
  const lock = acquireRunLock(dir);
  const own = () => {};
  process.on('SIGTERM', own);
  try {
    process.emit('SIGTERM', 'SIGTERM');
    assert.ok(existsSync(join(dir, LOCK_FILE)), 'the lock stays while the program finishes');
  } finally {
    process.off('SIGTERM', own);
  }
  lock.release();
  assert.not.ok(existsSync(join(dir, LOCK_FILE)));
});

test('release removes only its own lock, and twice is harmless', () => {
  const dir = freshDir();
  const lock = acquireRunLock(dir);
  const other = JSON.stringify({ pid: 4242, host: 'elsewhere', started: 'later' });
  writeFileSync(join(dir, LOCK_FILE), other);
  lock.release();
  lock.release();
  assert.is(readFileSync(join(dir, LOCK_FILE), 'utf8'), other);
});

test('several processes racing for one stale lock: exactly one gets it', async () => {
  const dir = freshDir();
  acquireRunLock(dir).release();
  writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: deadPid(), host: hostname(), started: '2020-01-01T00:00:00.000Z' }));
  const racers = Array.from({ length: 4 }, () => holder(dir));
  const answers = await Promise.all(racers.map((r) => r.first));
  assert.is(answers.filter((a) => a === 'locked').length, 1, answers.join('\n'));
  for (const answer of answers) if (answer !== 'locked') assert.match(answer, /^refused: .* is in use by process \d+/);
  for (const r of racers) r.child.stdin.end();
  await Promise.all(racers.map((r) => r.exited));
  assert.not.ok(existsSync(join(dir, LOCK_FILE)));
});

test.after(() => rmSync(root, { recursive: true, force: true }));

test.run();
