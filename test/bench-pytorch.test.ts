// The PyTorch peer (bench/peers/pytorch_peer.py in a child /usr/bin/python3): on a machine with Debian's
// python3-torch it must compute the same matmul as the float64 reference; without it, bench must say so in one
// line and go on. Which case applies is decided here, independently of the peer's own answer, so that a peer
// that wrongly reports itself unavailable fails instead of passing on the second branch.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { uniformArray } from '../src/rng.ts';
import { agreement, matmulSamples } from '../bench/check.ts';
import { fromTorch, PYTHON, startTorch } from '../bench/peers/pytorch.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const torchImportable = spawnSync(PYTHON, ['-c', 'import torch'], { timeout: 60_000 }).status === 0;

test(`the PyTorch peer: ${torchImportable ? 'a matmul checked against float64' : 'unavailable, with the reason'}`, async () => {
  const started = await startTorch('cpu');
  if (!torchImportable) {
    assert.ok('reason' in started, 'torch is not importable, yet the peer started');
    if ('reason' in started) {
      assert.not.match(started.reason, /\n/);
      assert.match(started.reason, /torch/);
      assert.match(started.reason, /npm run setup -- --peers/);
    }
    return;
  }
  assert.ok(!('reason' in started), 'reason' in started ? started.reason : '');
  if ('reason' in started) return;
  const { torch, info } = started;
  try {
    assert.is(info.engine, 'pytorch-cpu');
    assert.ok(info.threads >= 1);
    const peer = fromTorch(torch, info);
    assert.match(peer.description, /^PyTorch \S+ CPU/);
    const [M, N, K] = [13, 7, 29];
    const a = uniformArray(M * K, 4, 1, -1, 1), b = uniformArray(K * N, 4, 2, -1, 1);
    const result = await peer.matmul(2, M, N, K, a, b);
    assert.is(result.seconds.samples.length, 2);
    assert.is(result.outputs[0].length, M * N);
    // Every output, not a sample: the shape is tiny.
    const check = agreement(result.outputs[0], matmulSamples(a, b, M, N, K, M * N));
    assert.ok(check.agrees, check.detail);
    // A job it cannot do is a one-line error, and the process goes on answering.
    const refused = await torch.ask({ task: 'frobnicate' }).then(() => null, (e: Error) => e.message);
    assert.match(refused ?? '', /^the PyTorch peer failed on frobnicate: unknown task 'frobnicate'/);
    assert.is((await peer.matmul(1, 1, 1, 1, Float32Array.of(3), Float32Array.of(-2))).outputs[0][0], -6);
  } finally {
    torch.close();
  }
});

test('a missing interpreter makes the peer unavailable with a one-line reason, not a crash', async () => {
  const started = await startTorch('cpu', { python: '/nonexistent/python3' });
  assert.ok('reason' in started);
  if ('reason' in started) {
    assert.match(started.reason, /^cannot run \/nonexistent\/python3: .*ENOENT/);
    assert.not.match(started.reason, /\n/);
  }
});

test('bench --peers names the PyTorch peer in its header, or says in one line why it is unavailable', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'bench/run.ts', 'matmul', '--shapes', '4x4x4', '--variants', 'naive', '--runs', '1', '--json', '--peers'], { cwd: root, encoding: 'utf8', timeout: 120_000 });
  assert.is(r.status, 0, r.stderr);
  const header = r.stderr.split('\n').filter((line) => line.startsWith('peer pytorch-cpu: '));
  assert.is(header.length, 1, r.stderr);
  const figures = r.stdout.trim().split('\n').map((line) => JSON.parse(line)).filter((f) => f.engine === 'pytorch-cpu');
  if (torchImportable) {
    assert.match(header[0], /^peer pytorch-cpu: PyTorch \S+ CPU.*\d+ threads?/);
    assert.is(figures.length, 1);
    assert.is(figures[0].agrees, true);
    assert.ok(figures[0].ratio > 0);
  } else {
    assert.match(header[0], /^peer pytorch-cpu: unavailable: /);
    assert.is(figures.length, 0);
  }
});

test.run();
