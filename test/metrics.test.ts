// Metrics JSON lines: written line by line, appended on resume (after dropping a half-written line), and read
// back tolerating a cut-off last line but not damage elsewhere.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MetricsError, MetricsWriter, prepareMetricsForResume, readMetrics } from '../src/train/metrics.ts';

const dir = mkdtempSync(join(tmpdir(), 'saln-metrics-'));
const at = (name: string) => join(dir, name);

function writeOne(path: string, record: Record<string, unknown>, options?: ConstructorParameters<typeof MetricsWriter>[1]) {
  const writer = new MetricsWriter(path, options);
  writer.write(record);
  writer.close();
}

test('one JSON object per line, on disk as soon as write returns', () => {
  const writer = new MetricsWriter(at('run.jsonl'));
  writer.write({ step: 1, loss: 2.5, lr: 0.1, split: 'train' });
  // Read before close: nothing is buffered in the process.
  assert.is(readFileSync(at('run.jsonl'), 'utf8'), '{"step":1,"loss":2.5,"lr":0.1,"split":"train"}\n');
  writer.write({ step: 2, loss: NaN, gradNorm: Infinity, nested: { top1: 0.5 } });
  writer.close();
  writer.close();
  assert.throws(() => writer.write({ step: 3 }), /metrics file already closed/);
  const { records, truncatedTail } = readMetrics(at('run.jsonl'));
  assert.not.ok(truncatedTail);
  assert.is(records.length, 2);
  assert.equal(records[0], { step: 1, loss: 2.5, lr: 0.1, split: 'train' });
  // A diverged loss stays visible as NaN rather than becoming null.
  assert.ok(Number.isNaN(records[1].loss));
  assert.is(records[1].gradNorm, Infinity);
  assert.equal(records[1].nested, { top1: 0.5 });
});

test('a fresh writer starts the file over; --resume appends', () => {
  writeFileSync(at('resume.jsonl'), '{"step":1}\n');
  writeOne(at('resume.jsonl'), { step: 2 }, { resume: true, durable: true });
  assert.equal(readMetrics(at('resume.jsonl')).records, [{ step: 1 }, { step: 2 }]);
  writeOne(at('resume.jsonl'), { step: 1 });
  assert.equal(readMetrics(at('resume.jsonl')).records, [{ step: 1 }]);
  // Resuming a file that does not exist yet creates it.
  writeOne(at('new.jsonl'), { step: 7 }, { resume: true });
  assert.equal(readMetrics(at('new.jsonl')).records, [{ step: 7 }]);
});

test('a truncated last line is tolerated by the reader and dropped before resuming', () => {
  writeFileSync(at('crash.jsonl'), '{"step":1,"loss":2}\n{"step":2,"loss":1.9}\n{"step":3,"lo');
  const log = readMetrics(at('crash.jsonl'));
  assert.equal(log.records, [{ step: 1, loss: 2 }, { step: 2, loss: 1.9 }]);
  assert.ok(log.truncatedTail);
  const writer = new MetricsWriter(at('crash.jsonl'), { resume: true });
  writer.write({ step: 3, loss: 1.8 });
  writer.close();
  assert.is(readFileSync(at('crash.jsonl'), 'utf8'), '{"step":1,"loss":2}\n{"step":2,"loss":1.9}\n{"step":3,"loss":1.8}\n');
  // A file holding only a partial line, and a last line complete but for its newline.
  writeFileSync(at('partial.jsonl'), '{"st');
  writeOne(at('partial.jsonl'), { step: 1 }, { resume: true });
  assert.is(readFileSync(at('partial.jsonl'), 'utf8'), '{"step":1}\n');
  writeFileSync(at('no-newline.jsonl'), '{"step":1}\n{"step":2}');
  assert.equal(readMetrics(at('no-newline.jsonl')), { records: [{ step: 1 }, { step: 2 }], truncatedTail: false });
  // A partial line longer than the 64 KiB scan chunk.
  writeFileSync(at('long.jsonl'), `{"step":1}\n{"blob":"${'x'.repeat(100_000)}`);
  writeOne(at('long.jsonl'), { step: 2 }, { resume: true });
  assert.equal(readMetrics(at('long.jsonl')).records, [{ step: 1 }, { step: 2 }]);
});

test('damage before the last line is an error naming the file and line', () => {
  writeFileSync(at('bad.jsonl'), '{"step":1}\n{"step":2,,}\n{"step":3}\n');
  assert.throws(() => readMetrics(at('bad.jsonl')), (e: Error) => /bad\.jsonl:2: not JSON \(/.test(e.message) && !e.message.includes('\n'));
  writeFileSync(at('array.jsonl'), '[1,2]\n');
  assert.throws(() => readMetrics(at('array.jsonl')), /array\.jsonl:1: not a JSON object/);
  appendFileSync(at('blank.jsonl'), '{"step":1}\n\n{"step":2}\n');
  assert.equal(readMetrics(at('blank.jsonl')).records, [{ step: 1 }, { step: 2 }]);
  assert.throws(() => readMetrics(at('absent.jsonl')), /absent\.jsonl: cannot read metrics \(ENOENT\)/);
});

test('resuming from the checkpoint of step N drops the records of later steps, and damage after them goes too', () => {
  const lines = [{ step: 1 }, { kind: 'profile', step: 3 }, { step: 4 }, { kind: 'eval', step: 4 }, { step: 5 }, { step: 6 }].map((r) => JSON.stringify(r));
  writeFileSync(at('ahead.jsonl'), `${lines.join('\n')}\n{"step":7,"lo`);
  assert.equal(prepareMetricsForResume(at('ahead.jsonl'), 4), { kept: 4, dropped: 3, droppedPartialLine: false });
  assert.equal(readMetrics(at('ahead.jsonl')).records.map((r) => r.step), [1, 3, 4, 4]);
  writeOne(at('ahead.jsonl'), { step: 5 }, { resume: true, resumeAt: 4 });
  assert.equal(readMetrics(at('ahead.jsonl')).records.map((r) => r.step), [1, 3, 4, 4, 5]);
  // Damage after the cut is dropped with the records; before it, resuming would append to a damaged file.
  writeFileSync(at('damaged-late.jsonl'), '{"step":1}\n{"step":2}\n{"st#p":3}}\n');
  assert.equal(prepareMetricsForResume(at('damaged-late.jsonl'), 1), { kept: 1, dropped: 2, droppedPartialLine: false });
  writeFileSync(at('damaged-early.jsonl'), '{"step":1}\n{"step":2,,}\n{"step":3}\n');
  assert.throws(() => prepareMetricsForResume(at('damaged-early.jsonl'), 2), (e: Error) => e instanceof MetricsError && /damaged-early\.jsonl:2: not JSON \(.*\); the metrics file is damaged$/.test(e.message));
  writeFileSync(at('bad-step.jsonl'), '{"step":"three"}\n');
  assert.throws(() => prepareMetricsForResume(at('bad-step.jsonl'), 2), /bad-step\.jsonl:1: step "three" is not a number; the metrics file is damaged$/);
  assert.equal(prepareMetricsForResume(at('never-written.jsonl'), 2), { kept: 0, dropped: 0, droppedPartialLine: false });
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
