// The device layer: poll throttling keeps JS timers intact, device loss is reported, the process exits.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { installPollThrottle, pollStats } from '../src/gpu/throttle.ts';
import { getRuntime } from '../src/gpu/runtime.ts';
import { Tensor } from '../src/tensor.ts';
import { matmul } from '../src/ops/matmul.ts';
import { rejectsOneLine } from './assertions.ts';
import { settings } from '../src/util/settings.ts';

test('JS callbacks passed to setImmediate still run before timers', async () => {
  installPollThrottle();
  const order: string[] = [];
  await new Promise<void>((resolve) => {
    setTimeout(() => { order.push('timeout'); resolve(); }, 0);
    setImmediate(() => order.push('immediate'));
  });
  assert.equal(order, ['immediate', 'timeout']);
});

test("a long GPU wait is served by Dawn's native ticks, most of them sleeping", async () => {
  const rt = await getRuntime();
  const a = Tensor.upload(rt, new Float32Array(256 * 256).fill(1), [256, 256]);
  await rt.sync();
  const before = pollStats();
  const c = matmul(a, a);
  await c.download();
  const after = pollStats();
  a.dispose(); c.dispose();
  assert.ok(after.nativeTicks > before.nativeTicks, 'no native tick went through the throttled setImmediate');
});

test('a lost device is reported with its reason, and the process still exits', () => {
  const script = fileURLToPath(new URL('./fixtures/lose-device.ts', import.meta.url));
  const r = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', timeout: 60_000 });
  assert.is(r.signal, null, 'the process hung after losing the device');
  assert.match(r.stdout, /DeviceLostError: GPU device lost during .*: destroyed/);
});

for (const method of ['timestamp queries', 'fenced wall time'] as const) {
  test(`a profile counts every dispatch per kernel and times each (${method})`, async () => {
    const rt = await getRuntime();
    const saved = settings.fencedProfile;
    if (method === 'fenced wall time') settings.fencedProfile = true;
    try {
      if (rt.profileMethod !== method) return; // no timestamp queries on this adapter: the fallback is the case below
      const a = Tensor.upload(rt, new Float32Array(128 * 128).fill(1), [128, 128]);
      rt.startProfile();
      const c = matmul(a, a, { variant: 'regtile' });
      const d = matmul(c, a, { variant: 'regtile' });
      const kernels = await rt.stopProfile();
      const regtile = kernels.find((k) => k.kernel === 'shaders/matmul.wgsl:regtile');
      assert.ok(regtile, kernels.map((k) => k.kernel).join(', '));
      assert.is(regtile!.dispatches, 2);
      // Two 128^3 products take microseconds to milliseconds on any device; zero would mean nothing was timed.
      assert.ok(regtile!.seconds > 0 && regtile!.seconds < 10, `${regtile!.seconds} s`);
      await rejectsOneLine(() => rt.stopProfile(), /no profile is running/);
      assert.equal([...await d.download()].slice(0, 2), [128 * 128, 128 * 128]);
      a.dispose(); c.dispose(); d.dispose();
    } finally {
      settings.fencedProfile = saved;
    }
  });
}

test.run();
