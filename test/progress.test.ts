// The progress line with an injected clock and stream: plain periodic lines in logs, in-place redraws on a
// terminal, and the ETA arithmetic.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ProgressBar, formatDuration, formatNumber, type ProgressOptions } from '../src/util/progress.ts';

function harness(options: Omit<ProgressOptions, 'stream' | 'now'>, isTTY: boolean, columns = 100) {
  const clock = { ms: 0 };
  const writes: string[] = [];
  const stream = { isTTY, columns, write: (chunk: string) => writes.push(chunk) };
  const progress = new ProgressBar({ ...options, stream, now: () => clock.ms });
  return { clock, writes, progress };
}

test('durations and numbers format compactly', () => {
  assert.is(formatDuration(0), '0:00');
  assert.is(formatDuration(59.4), '0:59');
  assert.is(formatDuration(75), '1:15');
  assert.is(formatDuration(3725), '1:02:05');
  assert.is(formatDuration(Infinity), '--:--');
  assert.is(formatNumber(0.43214), '0.4321');
  assert.is(formatNumber(0.01), '0.01');
  assert.is(formatNumber(2.5), '2.5');
  assert.is(formatNumber(1e-4), '1e-4');
  assert.is(formatNumber(1.5e-5), '1.5e-5');
  assert.is(formatNumber(0), '0');
});

test('not a terminal: plain lines every plainEveryMs and at milestones, each with an ETA', () => {
  const { clock, writes, progress } = harness({ total: 1000, label: 'epoch 1', unit: 'img', plainEveryMs: 20_000 }, false);
  // 10 images every second: 100 s in all.
  for (let second = 1; second <= 100; second++) {
    clock.ms = second * 1000;
    progress.update(second * 10, { loss: 2 / second, lr: 0.1 });
  }
  progress.finish();
  assert.ok(writes.every((w) => w.endsWith('\n') && !w.includes('\r')), 'plain lines only');
  const counts = writes.map((w) => Number(w.split(' ')[2].split('/')[0]));
  // Every 20 s since the last line, plus the 25/50/75% milestones, plus the final line.
  assert.equal(counts, [200, 250, 450, 500, 700, 750, 950, 1000]);
  // At 25 s: 250 done at 10 img/s -> 750 left -> 75 s.
  assert.is(writes[1], 'epoch 1 250/1000 25% 10.0 img/s ETA 1:15 elapsed 0:25 loss 0.08 lr 0.1\n');
  assert.is(writes[7], 'epoch 1 1000/1000 100% 10.0 img/s in 1:40 loss 0.02 lr 0.1\n');
});

test('the ETA follows the recent rate, not a slow start', () => {
  const { clock, writes, progress } = harness({ total: 1000, rateWindowMs: 10_000 }, false);
  // 60 s for the first 100 (compilation), then 50/s.
  clock.ms = 60_000;
  progress.update(100);
  for (let second = 1; second <= 13; second++) {
    clock.ms = 60_000 + second * 1000;
    progress.update(100 + second * 50);
  }
  // At 73 s, 750 done: over the last 10 s 500 more, 50/s, so 250 left take 5 s (the average since the start,
  // 10.3/s, would say 24 s).
  assert.is(progress.rate(), 50);
  assert.match(writes.at(-1)!, /^750\/1000 75% 50\.0 it\/s ETA 0:05 elapsed 1:13\n$/);
  // Before a second sample exists the rate spans the time since the start: 100 in 60 s.
  const fresh = harness({ total: 1000 }, false);
  fresh.clock.ms = 60_000;
  fresh.progress.update(100);
  assert.ok(Math.abs(fresh.progress.rate() - 100 / 60) < 1e-12);
  assert.is(fresh.writes[0], '100/1000 10% 1.7 it/s ETA 9:00 elapsed 1:00\n', 'a minute without a line prints one');
});

test('on a terminal: redrawn in place with carriage returns, at most every redrawMs', () => {
  const { clock, writes, progress } = harness({ total: 500, label: 'train', unit: 'img' }, true);
  // An update every 10 ms for 5 s: 500 updates, but only ~10 redraws a second.
  for (let i = 1; i <= 500; i++) {
    clock.ms = i * 10;
    progress.update(i, { loss: 0.5 });
  }
  const redraws = writes.length;
  assert.is(redraws, 50, '10 redraws a second for 5 s');
  assert.ok(writes.every((w) => w.startsWith('\r') && w.endsWith('\x1b[K') && !w.includes('\n')), 'redrawn in place');
  // Redraws at 10 ms, then every 100 ms: at 1010 ms, 101 of 500 at 100 img/s -> 3.99 s left; 20.2% of the
  // 24-character bar is 4.8 -> 5 filled.
  const atOneSecond = writes.find((w) => w.includes(' 101/500 '));
  assert.is(atOneSecond, `\rtrain [${'#'.repeat(5)}${'.'.repeat(19)}] 101/500 20% 100 img/s ETA 0:04 loss 0.5\x1b[K`);
  progress.log('checkpoint saved');
  assert.is(writes[redraws], '\r\x1b[Kcheckpoint saved\n', 'a message clears the bar and ends its own line');
  assert.ok(writes[redraws + 1].startsWith('\rtrain ['), 'then the bar is redrawn');
  progress.finish({ loss: 0.25 });
  assert.is(writes.at(-1), `\rtrain [${'#'.repeat(24)}] 500/500 100% 100 img/s in 0:05 loss 0.25\x1b[K\n`);
  progress.update(1);
  progress.finish();
  assert.is(writes.length, redraws + 3, 'nothing after finish');
});

test('on a narrow terminal the line is cut so that it never wraps', () => {
  const { clock, writes, progress } = harness({ total: 10, label: 'a-long-label-for-a-narrow-terminal' }, true, 40);
  clock.ms = 1000;
  progress.update(5, { loss: 1.25, lr: 0.01 });
  assert.is(writes[0].replace('\r', '').replace('\x1b[K', '').length, 39);
});

test.run();
