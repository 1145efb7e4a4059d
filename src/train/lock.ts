// One run per output directory: two runs writing the same --out would interleave their metrics and overwrite
// each other's checkpoints. The lock is DIR/.lock, created atomically (a complete file linked into place, which
// fails if one exists) and holding who made it. A lock whose process is gone (killed, machine rebooted) is stale
// and taken over with a note; the lock is removed on exit, on errors, and on SIGINT/SIGTERM/SIGHUP.
import { closeSync, linkSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

export const LOCK_FILE = '.lock';

export class RunLockError extends Error {
  override name = 'RunLockError';
}

export interface RunLock {
  readonly path: string;
  /** Removes the lock (only if it is still this process's); safe to call twice. */
  release(): void;
}

export interface LockOptions {
  /** Where the note about a stale lock goes (default: stderr). */
  onNote?: (line: string) => void;
}

interface LockInfo {
  pid: number;
  host: string;
  started: string;
  /** Boot and process start time (Linux): tells a live holder from an unrelated process that reuses its pid. */
  identity?: string | null;
  command?: string;
}

/** This boot and the kernel's start time of `pid`, or null where /proc does not say. */
function processIdentity(pid: number): string | null {
  try {
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime) counted after the command name, which is in parentheses and may hold anything.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return `${boot}:${fields[19]}`;
  } catch {
    return null;
  }
}

function isAlive(info: LockInfo): boolean {
  try {
    process.kill(info.pid, 0);
  } catch (e) {
    // EPERM: the process exists but belongs to another user.
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (!info.identity) return true;
  const now = processIdentity(info.pid);
  return now === null || now === info.identity;
}

function readLock(path: string): { raw: string; info: LockInfo | null } | null {
  let raw: string;
  try {
    raw = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new RunLockError(`${path}: cannot read the lock (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    const info = JSON.parse(raw) as LockInfo;
    return { raw, info: Number.isSafeInteger(info?.pid) && info.pid > 0 && typeof info.host === 'string' ? info : null };
  } catch {
    return { raw, info: null };
  }
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function writeNew(path: string, text: string): void {
  const fd = openSync(path, 'wx');
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * Takes the lock of output directory `dir` (created if missing) for this process, or throws a one-line
 * RunLockError naming the process that holds it. Release it with release(); exiting does too.
 */
export function acquireRunLock(dir: string, options: LockOptions = {}): RunLock {
  const note = options.onNote ?? ((line: string) => void process.stderr.write(`${line}\n`));
  mkdirSync(dir, { recursive: true });
  const path = join(dir, LOCK_FILE);
  const mine: LockInfo = {
    pid: process.pid, host: hostname(), started: new Date().toISOString(), identity: processIdentity(process.pid),
    command: process.argv.slice(2).join(' ').slice(0, 200),
  };
  const text = `${JSON.stringify(mine)}\n`;
  // Written in full beside the lock, then linked to its name: the link fails if a lock exists, and a reader
  // never sees a half-written one.
  const draft = `${path}.${process.pid}.${Date.now()}.tmp`;
  writeNew(draft, text);
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        linkSync(draft, path);
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new RunLockError(`${path}: cannot create the lock (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      }
      const held = readLock(path);
      if (held === null) continue; // released between our link and our read
      const { info } = held;
      if (info && info.host !== mine.host) {
        throw new RunLockError(`${dir} is in use by process ${info.pid} on host ${info.host} (started ${info.started}); if that run is gone, delete ${path}`);
      }
      if (info && isAlive(info)) {
        throw new RunLockError(`${dir} is in use by process ${info.pid} (started ${info.started}${info.command ? `: saln ${info.command}` : ''}); wait for it to finish or stop it, or pass another --out`);
      }
      if (attempt > 100) throw new RunLockError(`${path}: cannot take over the stale lock (it keeps changing)`);
      takeOverStale(path, held.raw, () => note(info
        ? `note: ${dir} was locked by process ${info.pid} (started ${info.started}), which is no longer running; taking the lock over`
        : `note: ${path} was unreadable; taking the lock over`));
    }
  } finally {
    try { unlinkSync(draft); } catch { /* already gone */ }
  }
  return holdLock(path, text);
}

/**
 * Removes a stale lock if it is still the one judged stale. Two processes may find the same stale lock; the
 * guard file makes the check and the removal one step, so neither removes the fresh lock the other just made.
 */
function takeOverStale(path: string, staleText: string, onTakeOver: () => void): void {
  const guard = `${path}.takeover`;
  try {
    writeNew(guard, String(process.pid));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    // Another process is taking over; a guard left by one that died meanwhile expires.
    try {
      if (Date.now() - statSync(guard).mtimeMs > 5000) unlinkSync(guard);
    } catch { /* gone already */ }
    sleep(20);
    return;
  }
  try {
    if (readLock(path)?.raw === staleText) {
      unlinkSync(path);
      onTakeOver();
    }
  } finally {
    unlinkSync(guard);
  }
}

function holdLock(path: string, text: string): RunLock {
  let held = true;
  const release = () => {
    if (!held) return;
    held = false;
    process.off('exit', release);
    for (const signal of SIGNALS) process.off(signal, onSignal);
    // Only our own lock: if it was removed by hand and another run took the directory, that lock stays.
    if (readLock(path)?.raw === text) {
      try { unlinkSync(path); } catch { /* removed meanwhile */ }
    }
  };
  // A signal another part of the program handles (train's Ctrl-C saves a checkpoint first) leaves the lock to
  // the 'exit' handler; otherwise the lock goes and the signal then does what it would have done.
  const onSignal = (signal: NodeJS.Signals) => {
    if (process.listenerCount(signal) > 1) return;
    release();
    process.kill(process.pid, signal);
  };
  process.on('exit', release);
  for (const signal of SIGNALS) process.on(signal, onSignal);
  return { path, release };
}
