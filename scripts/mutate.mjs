#!/usr/bin/env node
// Mutation run: plants each bug of test/mutations/mutations.json, one at a time, in a scratch copy of the
// repository, runs the check named beside it, and expects that check to fail. A check that passes with the bug
// in place (a survivor), a bug whose text is not found exactly once (the code moved on: update the list), or a
// check that fails on the unmutated copy (it would "catch" everything) fails the whole run.
//
//   node scripts/mutate.mjs [--only id,id] [--root DIR] [--json FILE] [--keep] [--timeout S]
//
// The copy leaves out node_modules (symlinked), .git, dist, runs, datasets/data and scratch; checks run the
// TypeScript sources through tsx, so no build is needed. Runs sequentially: checks are GPU-bound on one device.
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({
  options: {
    only: { type: 'string' }, root: { type: 'string' }, json: { type: 'string' }, keep: { type: 'boolean' },
    timeout: { type: 'string' }, list: { type: 'string' }, help: { type: 'boolean' },
  },
});
if (values.help) {
  process.stdout.write(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1, 10).map((l) => l.replace(/^\/\/ ?/, '')).join('\n') + '\n');
  process.exit(0);
}
const root = resolve(values.root ?? here);
const listPath = resolve(values.list ?? join(here, 'test/mutations/mutations.json'));
// Long enough for the slowest check (a whole-network gradient test on lavapipe), short enough that a mutation
// that hangs a kernel does not stall the run.
const defaultTimeout = Number(values.timeout ?? 900);
let mutations = JSON.parse(readFileSync(listPath, 'utf8')).mutations;
if (values.only) {
  const wanted = values.only.split(',');
  const unknown = wanted.filter((id) => !mutations.some((m) => m.id === id));
  if (unknown.length) { console.error(`mutate: unknown id ${unknown.join(', ')}`); process.exit(2); }
  mutations = mutations.filter((m) => wanted.includes(m.id));
}

const EXCLUDED = new Set(['node_modules', '.git', 'dist', 'runs', 'datasets/data', 'scratch', 'out', '.cache', 'bench/results', 'test/.readme-example.mjs']);
const scratch = mkdtempSync(join(tmpdir(), 'saln-mutate-'));
cpSync(root, scratch, {
  recursive: true,
  filter: (src) => !EXCLUDED.has(relative(root, src)),
});
symlinkSync(join(root, 'node_modules'), join(scratch, 'node_modules'), 'dir');

const editsOf = (m) => m.edits ?? [{ file: m.file, find: m.find, replace: m.replace }];

function occurrences(text, find) {
  let count = 0;
  for (let at = text.indexOf(find); at !== -1; at = text.indexOf(find, at + 1)) count++;
  return count;
}

/** Runs `command` in the scratch copy; resolves to { code, seconds, output tail, timedOut }. */
function runCheck(command, timeoutSeconds) {
  return new Promise((done) => {
    const started = Date.now();
    const child = spawn('bash', ['-c', command], { cwd: scratch, detached: true, env: { ...process.env, FORCE_COLOR: '0' } });
    let output = '';
    const keep = (chunk) => { output = (output + chunk).slice(-4000); };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; try { process.kill(-child.pid, 'SIGKILL'); } catch {} }, timeoutSeconds * 1000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      done({ code: code ?? (signal ? 128 : 1), seconds: (Date.now() - started) / 1000, output, timedOut });
    });
  });
}

const results = [];
const baseline = new Map();
let broken = false;
try {
  for (const m of mutations) {
    const edits = editsOf(m);
    const originals = new Map();
    let problem = null;
    for (const e of edits) {
      const path = join(scratch, e.file);
      if (!existsSync(path)) { problem = `${e.file} does not exist`; break; }
      const text = originals.get(e.file) ?? readFileSync(path, 'utf8');
      if (!originals.has(e.file)) originals.set(e.file, text);
    }
    // Every edit is located in the text as it stands after the previous edits of the same mutation.
    const mutated = new Map(originals);
    for (const e of edits) {
      if (problem) break;
      const count = occurrences(mutated.get(e.file), e.find);
      if (count !== 1) { problem = `text found ${count} times in ${e.file} (expected exactly once): ${JSON.stringify(e.find.slice(0, 80))}`; break; }
      mutated.set(e.file, mutated.get(e.file).replace(e.find, () => e.replace));
    }
    if (problem) {
      results.push({ id: m.id, check: m.check, outcome: 'MISSING TEXT', seconds: 0, detail: problem });
      console.error(`mutate: ${m.id}: ${problem}`);
      continue;
    }
    const timeout = m.timeout ?? defaultTimeout;
    if (!baseline.has(m.check)) {
      const clean = await runCheck(m.check, timeout);
      baseline.set(m.check, clean);
      if (clean.code !== 0) console.error(`mutate: the check '${m.check}' fails without any mutation (exit ${clean.code}${clean.timedOut ? ', timed out' : ''}):\n${clean.output}`);
    }
    if (baseline.get(m.check).code !== 0) {
      results.push({ id: m.id, check: m.check, outcome: 'CHECK FAILS CLEAN', seconds: 0, detail: 'the check fails on the unmutated copy' });
      continue;
    }
    for (const [file, text] of mutated) writeFileSync(join(scratch, file), text);
    let r;
    try {
      r = await runCheck(m.check, timeout);
    } finally {
      for (const [file, text] of originals) writeFileSync(join(scratch, file), text);
    }
    const outcome = r.timedOut ? 'caught (timeout)' : r.code !== 0 ? 'caught' : 'SURVIVED';
    results.push({ id: m.id, check: m.check, outcome, seconds: r.seconds, detail: r.code !== 0 ? lastFailure(r.output) : '' });
    process.stderr.write(`${outcome.padEnd(18)} ${m.id} (${r.seconds.toFixed(1)} s)\n`);
  }
} finally {
  if (!values.keep) rmSync(scratch, { recursive: true, force: true });
  else console.error(`mutate: scratch copy kept at ${scratch}`);
}

/** The first assertion or error line of a failed check, for the table. */
function lastFailure(output) {
  const lines = output.split('\n').map((l) => l.trim()).filter(Boolean);
  const line = lines.find((l) => /FAIL|NO \(|Error|✘|assert/i.test(l)) ?? lines[lines.length - 1] ?? '';
  return line.slice(0, 140);
}

const caught = results.filter((r) => r.outcome.startsWith('caught')).length;
const width = Math.max(...results.map((r) => r.id.length), 8);
const checkWidth = Math.max(...results.map((r) => r.check.length), 5);
console.log(`| ${'mutation'.padEnd(width)} | ${'check'.padEnd(checkWidth)} | ${'result'.padEnd(17)} | seconds |`);
console.log(`|${'-'.repeat(width + 2)}|${'-'.repeat(checkWidth + 2)}|${'-'.repeat(19)}|---------|`);
for (const r of results) console.log(`| ${r.id.padEnd(width)} | ${r.check.padEnd(checkWidth)} | ${r.outcome.padEnd(17)} | ${r.seconds.toFixed(1).padStart(7)} |`);
console.log(`mutation score: ${caught}/${results.length}${results.length ? ` (${(100 * caught / results.length).toFixed(1)}%)` : ''}`);
if (values.json) writeFileSync(values.json, JSON.stringify({ root, results }, null, 2) + '\n');
broken = caught !== results.length || results.length === 0;
process.exit(broken ? 1 : 0);
