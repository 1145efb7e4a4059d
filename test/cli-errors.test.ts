// Bad command lines, as a user types them: unknown flags, wrong types, out-of-range values, unknown names and
// missing paths. Each must end with exit 2, one line naming the problem, then the sub-command's usage line(s)
// (not the whole help), and must fail before any data is read or the GPU is opened. The cases run in-process
// through runCli (what the binary runs), with SALN_ADAPTER naming no adapter, so that a case reaching the GPU
// fails with exit 1; a few also run through the binary, where Dawn's 'Warning:' lines would show a device being
// opened. Unknown commands and `validate --jsn` are in cli.test.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { runCli } from '../src/cli/cli.ts';
import { readSettings, settings } from '../src/util/settings.ts';

const BIN = fileURLToPath(new URL('../bin/saln.mjs', import.meta.url));
// Set for these tests only: uvu imports every test file before running any, in one process.
const ENV = { SALN_ADAPTER: 'saln-test-no-such-adapter', SALN_DATA: '/nonexistent/saln-test-data', SALN_DEBUG: undefined };
const savedEnv = Object.fromEntries(Object.keys(ENV).map((key) => [key, process.env[key]]));
const setEnv = (values: Record<string, string | undefined>) => {
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
};
// The library read the environment once, at import: read it again into its settings after each change.
test.before(() => { setEnv(ENV); Object.assign(settings, readSettings()); });
test.after(() => { setEnv(savedEnv); Object.assign(settings, readSettings()); });

interface Result { status: number | null; stdout: string; stderr: string; seconds: number }

/** One command line through runCli, with what it writes to stdout and stderr. */
async function inProcess(args: string[]): Promise<Result> {
  const started = performance.now();
  let stdout = '', stderr = '';
  const write = process.stdout.write;
  process.stdout.write = ((chunk: string | Uint8Array) => { stdout += String(chunk); return true; }) as typeof process.stdout.write;
  let status: number;
  try {
    status = await runCli(args, { write: (text: string) => { stderr += text; } });
  } finally {
    process.stdout.write = write;
  }
  return { status, stdout, stderr, seconds: (performance.now() - started) / 1000 };
}

function binary(args: string[]): Promise<Result> {
  const started = performance.now();
  return new Promise((resolve) => {
    // The user's own environment: a real adapter, so that a command reaching the GPU would open a device.
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const [key, value] of Object.entries(savedEnv)) {
      if (value === undefined) delete env[key];
      else env[key] = value;
    }
    const child = spawn(process.execPath, [BIN, ...args], { env });
    let stdout = '', stderr = '';
    child.stdout.on('data', (chunk) => { stdout += chunk; });
    child.stderr.on('data', (chunk) => { stderr += chunk; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr, seconds: (performance.now() - started) / 1000 });
    });
  });
}

/** The `usage:` line and its continuation lines, as `saln COMMAND --help` prints them. */
async function usageOf(command: string): Promise<string[]> {
  const help = await inProcess([command, '--help']);
  assert.is(help.status, 0, `${command} --help`);
  const lines = help.stdout.split('\n');
  const first = lines.findIndex((line) => line.startsWith('usage:'));
  let last = first;
  while (/^\s+saln /.test(lines[last + 1] ?? '')) last++;
  return lines.slice(first, last + 1);
}

type Case = [string[], RegExp];

function checkUsageError(label: string, r: Result, pattern: RegExp, command: string, usage: string[]): void {
  assert.is(r.status, 2, `${label}: exit ${r.status}\n${r.stderr}`);
  assert.is(r.stdout, '', `${label}: nothing on stdout`);
  const lines = r.stderr.replace(/\n$/, '').split('\n');
  assert.match(lines[0], pattern, label);
  assert.ok(lines[0].startsWith(`saln: ${command}`), `${label}: '${lines[0]}' does not name the command`);
  assert.equal(lines.slice(1), usage, `${label}: the usage line(s) follow the error, and nothing else`);
}

async function expectUsageErrors(command: string, cases: Case[]): Promise<void> {
  const usage = await usageOf(command);
  assert.ok(usage.length >= 1 && usage[0].startsWith(`usage: saln ${command}`), usage.join('\n'));
  for (const [args, pattern] of cases) {
    const label = `saln ${command} ${args.join(' ')}`;
    const r = await inProcess([command, ...args]);
    checkUsageError(label, r, pattern, command, usage);
    // No data set was read: the slowest of these finishes in milliseconds.
    assert.ok(r.seconds < 2, `${label}: took ${r.seconds.toFixed(1)} s`);
  }
}

test('saln train: unknown flags, wrong types, out-of-range values, unknown names, missing paths', async () => {
  await expectUsageErrors('train', [
    [['--bogus'], /Unknown option '--bogus'; run 'saln train --help'$/],
    [['--epoch', '3'], /Unknown option '--epoch' \(did you mean --epochs\?\)/],
    [['extra'], /Unexpected argument 'extra'/],
    [['--epochs'], /Option '--epochs <value>' argument missing/],
    [['--epochs', 'abc'], /--epochs must be a positive integer, got 'abc'$/],
    [['--epochs', '0x10'], /--epochs must be a positive integer, got '0x10'$/],
    [['--batch-size', '0'], /--batch-size must be a positive integer, got '0'$/],
    [['--batch-size', '2.5'], /--batch-size must be a positive integer, got '2.5'$/],
    [['--lr', '-0.1'], /--lr must be a positive number, got '-0.1'$/],
    [['--lr', 'fast'], /--lr must be a positive number, got 'fast'$/],
    [['--limit', '-3'], /--limit must be a positive integer, got '-3'$/],
    [['--test-limit', '0'], /--test-limit must be a positive integer, got '0'$/],
    [['--keep', '0'], /--keep must be a positive number, got '0'$/],
    [['--keep', '1.5'], /--keep must lie in \(0, 1\], got '1.5'$/],
    [['--selector', 'saln', '--keep-end', '2'], /--keep-end must lie in \(0, 1\], got '2'$/],
    [['--momentum', '1'], /--momentum must be a number in \[0, 1\), got '1'$/],
    [['--seed', '1.5'], /--seed must be an integer, got '1.5'$/],
    [['--selector', 'best'], /unknown selector 'best'; available: none, random, loss, rho, jest, saln$/],
    [['--selector', 'saln', '--selector-option', 'bogus=1'], /--selector saln: saln selector: unknown option 'bogus'/],
    [['--selector', 'saln', '--selector-option', 'rule'], /--selector-option takes key=value, got 'rule'$/],
    [['--dataset', 'imagenet'], /unknown dataset 'imagenet'; available: fashion-mnist, mnist, cifar10, cifar100, oxford-pets, folder, synthetic$/],
    [['--model', 'vgg16'], /--model vgg16 is not available; resnet18 is$/],
    [['--optimizer', 'adam'], /unknown optimizer 'adam'; available: sgd, adamw$/],
    [['--schedule', 'wavy'], /unknown LR schedule 'wavy'; available: constant, cosine, step, onecycle$/],
    [['--augment', 'flip,blur'], /unknown augmentation 'blur'; available: flip, crop, rotate, jitter, none$/],
    [['--data-dir', '/nonexistent/saln-data'], /--data-dir \/nonexistent\/saln-data does not exist$/],
    [['--dataset', 'cifar10', '--data-dir', BIN], /--data-dir .*saln\.mjs is not a directory$/],
    [['--selector', 'jest', '--reference', '/nonexistent/run'], /--reference \/nonexistent\/run does not exist$/],
    [['--pretrained', '/nonexistent/resnet18.safetensors'], /--pretrained \/nonexistent\/resnet18\.safetensors does not exist$/],
    [['--resume', '/nonexistent/run'], /--resume \/nonexistent\/run has no trainer\.safetensors/],
  ]);
});

test('saln compare: bad selectors and options, ranges and paths', async () => {
  await expectUsageErrors('compare', [
    [['--bogus'], /Unknown option '--bogus'/],
    [['--selectors', 'none,best'], /unknown selector 'best'; choose from none, random, loss, rho, jest, saln$/],
    [['--selectors', ','], /--selectors is empty$/],
    [['--selector', 'saln'], /--selector is for 'saln train'; give the selectors to compare with --selectors LIST$/],
    [['--selector-option', 'saln:bogus=1'], /--selector-option saln: saln selector: unknown option 'bogus'/],
    [['--selector-option', 'jest:chunks=4'], /names 'jest', which is not among --selectors none,random,saln$/],
    [['--selector-option', 'rule=balanced'], /--selector-option takes SELECTOR:KEY=VALUE, got 'rule=balanced'$/],
    [['--keep', '0'], /--keep must be a positive number, got '0'$/],
    [['--keep', '1.5'], /--keep must lie in \(0, 1\], got '1.5'$/],
    [['--eval-every', '-1'], /--eval-every must be a non-negative integer, got '-1'$/],
    [['--target', '2'], /--target must be a number in \[0, 1\), got '2'$/],
    [['--budget-images', '0'], /--budget-images must be a positive integer, got '0'$/],
    [['--batch-size', '0'], /--batch-size must be a positive integer, got '0'$/],
    [['--dataset', 'imagenet'], /unknown dataset 'imagenet'/],
    [['--data-dir', '/nonexistent/saln-data'], /--data-dir \/nonexistent\/saln-data does not exist$/],
    [['--selectors', 'none,jest'], /jest needs a reference model/],
    [['--selectors', 'none,saln', '--selector-option', 'saln:featureSource=reference'], /saln needs a reference model/],
  ]);
});

test('saln data, validate, info and tune: unknown actions, names, flags and directories', async () => {
  await expectUsageErrors('data', [
    [[], /^saln: data: name an action, download or list/],
    [['fetch'], /unknown action 'fetch' \(expected download or list\)/],
    [['download', 'imagenet'], /unknown data set 'imagenet'; available: /],
    [['list', '--jsn'], /Unknown option '--jsn' \(did you mean --json\?\)/],
    [['list', '--dir', '/nonexistent/saln-data'], /--dir \/nonexistent\/saln-data does not exist$/],
    [['list', '--dir', '/tmp', '--data-dir', '/var'], /--dir and --data-dir name the same setting; give one$/],
  ]);
  await expectUsageErrors('validate', [
    [['--kernel', 'no-such-kernel'], /no kernel starts with 'no-such-kernel'$/],
    [['matmul'], /Unexpected argument 'matmul'/],
    [['--json=yes'], /Option '--json' does not take an argument/],
  ]);
  await expectUsageErrors('info', [[['--jsn'], /Unknown option '--jsn' \(did you mean --json\?\)/]]);
  await expectUsageErrors('tune', [[['--forse'], /Unknown option '--forse' \(did you mean --force\?\)/]]);
});

test('saln bench: an unknown benchmark exits 2 with the usage line', async () => {
  const r = await inProcess(['bench', 'frobnicate']);
  assert.is(r.status, 2);
  const lines = r.stderr.replace(/\n$/, '').split('\n');
  assert.match(lines[0], /^saln: bench: unknown .*'frobnicate'/);
  assert.ok(lines.length === 2 && lines[1].startsWith('usage: '), r.stderr);
});

test('through the binary: exit 2, the same two lines, and no GPU device opened', async () => {
  const lines: [string, string[], RegExp][] = [
    ['train', ['--epochs', 'abc'], /--epochs must be a positive integer, got 'abc'$/],
    ['train', ['--selector', 'best', '--dataset', 'cifar10'], /unknown selector 'best'/],
    ['compare', ['--keep', '1.5'], /--keep must lie in \(0, 1\]/],
    ['data', ['list', '--dir', '/nonexistent/saln-data'], /does not exist$/],
    ['validate', ['--kernel', 'no-such-kernel'], /no kernel starts with 'no-such-kernel'$/],
  ];
  const results = await Promise.all(lines.map(([command, args]) => binary([command, ...args])));
  for (let i = 0; i < lines.length; i++) {
    const [command, args, pattern] = lines[i];
    // Dawn prints 'Warning: ...' lines when it creates a device: none may appear.
    assert.not.match(results[i].stderr, /^Warning: /m, `saln ${command} ${args.join(' ')} opened the GPU`);
    checkUsageError(`saln ${command} ${args.join(' ')}`, results[i], pattern, command, await usageOf(command));
  }
});

test.run();
