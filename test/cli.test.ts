// The `saln` command as a user runs it: help, info, validate --json, bad flags; and every run exits by itself.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { saln } from './saln-cli.ts';

const FAULTY_SALN = fileURLToPath(new URL('./fixtures/saln-drop-k.ts', import.meta.url));

test('--help lists the commands and exits 0', () => {
  const r = saln(['--help']);
  assert.is(r.status, 0);
  for (const command of ['info', 'validate', 'bench']) assert.match(r.stdout, new RegExp(`\\n  ${command} `));
});

test('an unknown command or flag is one line that says what to run, with a non-zero exit', () => {
  const unknown = saln(['frobnicate']);
  assert.is(unknown.status, 2);
  assert.is(unknown.stderr.trim(), "saln: unknown command 'frobnicate'; run 'saln --help' for the list");
  const badFlag = saln(['validate', '--jsn']);
  assert.is(badFlag.status, 2);
  assert.match(badFlag.stderr, /^saln: validate: Unknown option '--jsn' \(did you mean --json\?\); run 'saln validate --help'\nusage: saln validate \[--json\] .*\n$/);
});

test('info --json describes the adapter and its limits', () => {
  const r = saln(['info', '--json']);
  assert.is(r.status, 0, r.stderr);
  const info = JSON.parse(r.stdout);
  assert.type(info.adapter, 'string');
  assert.ok(info.limits.maxStorageBufferBindingSize > 0);
  assert.ok(info.limits.maxComputeWorkgroupStorageSize > 0);
  assert.ok(Array.isArray(info.features));
});

test('validate --json exits 0 and covers matmul, elementwise, reduction, transpose and RNG kernels', () => {
  const r = saln(['validate', '--json']);
  assert.is(r.status, 0, r.stdout + r.stderr);
  const rows = r.stdout.trim().split('\n').map((line) => JSON.parse(line));
  const summary = rows.pop();
  assert.ok(summary.summary.pass);
  const kernels = rows.map((row) => row.kernel as string);
  for (const prefix of ['matmul.', 'unary.', 'binary.', 'scale_add', 'reduce.', 'transpose', 'rng.', 'fill', 'copy']) {
    assert.ok(kernels.some((k) => k.startsWith(prefix)), `no ${prefix} kernel in ${kernels.join(', ')}`);
  }
  for (const row of rows) assert.ok(row.pass && row.cases >= 5, `${row.kernel}: ${JSON.stringify(row)}`);
});

test('an adapter name that matches nothing lists the available adapters', () => {
  const r = saln(['info', '--adapter', 'no-such-gpu-xyz']);
  assert.is(r.status, 1);
  assert.match(r.stderr, /^saln: no WebGPU adapter matches 'no-such-gpu-xyz'; available: .+ \(pass one with --adapter NAME or SALN_ADAPTER\)\n$/);
});

test('validate fails loudly when a kernel is wrong', () => {
  // A launch hook makes the regtile matmul drop the last k step; validation must notice.
  const r = spawnSync(process.execPath, ['--import', 'tsx', FAULTY_SALN, 'validate', '--kernel', 'matmul.regtile'], { encoding: 'utf8', timeout: 300_000 });
  assert.is(r.status, 1, r.stdout);
  assert.match(r.stdout, /matmul\.regtile\s+\d+\s+\S+\s+\S+\s+NO/);
});

test.run();
