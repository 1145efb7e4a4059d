// Runs the `saln` command as a user does (a child process), for the CLI tests.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../bin/saln.mjs', import.meta.url));
/** A run that takes a few seconds: 64 synthetic images, a 1/16-width ResNet-18, 4 steps per epoch. */
export const TINY = ['--dataset', 'synthetic', '--limit', '64', '--test-limit', '32', '--stem', 'cifar', '--width', '0.0625', '--batch-size', '16', '--seed', '4'];

export interface CliResult { status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

/**
 * Dawn's own start-up warnings on stderr ('Warning: ... artificially reduced') are not ours and are left out. A
 * hang at exit (Dawn keeping the process alive) shows up as the timeout's signal, not a status.
 */
export function saln(args: string[], env: NodeJS.ProcessEnv = {}): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 300_000, env: { ...process.env, ...env } });
  const stderr = r.stderr.split('\n').filter((l) => !l.startsWith('Warning: ')).join('\n');
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr };
}

const dirs: string[] = [];
export function tempDir(prefix = 'saln-cli-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}
export function removeTempDirs(): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}
