// `saln compare` on the synthetic set with three selectors writes every file it promises.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../bin/saln.mjs', import.meta.url));

test('compare none,random,saln on synthetic data writes summaries, metrics and pictures', () => {
  const out = mkdtempSync(join(tmpdir(), 'saln-compare-'));
  try {
    const r = spawnSync(process.execPath, [BIN, 'compare', '--dataset', 'synthetic', '--limit', '96', '--test-limit', '48',
      '--stem', 'cifar', '--width', '0.0625', '--batch-size', '32', '--epochs', '2', '--selectors', 'none,random,saln', '--reference-limit', '64',
      '--keep', '0.5', '--eval-every', '2', '--eval-subset', '48', '--target', '0.3', '--out', out], { encoding: 'utf8', timeout: 300_000 });
    assert.is(r.status, 0, r.stderr);
    for (const file of ['summary.md', 'summary.json', 'metrics-none.jsonl', 'metrics-random.jsonl', 'metrics-saln.jsonl']) assert.ok(existsSync(join(out, file)), file);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    assert.equal(summary.rows.map((row: { selector: string }) => row.selector), ['none', 'random', 'saln']);
    const [none, random, saln] = summary.rows;
    // Same steps; the selectors back-propagate half of each batch (16 of 32). saln reads its reference's features
    // from the cache, so it runs no scoring forward.
    assert.is(none.imagesBackpropagated, 192);
    assert.is(random.imagesBackpropagated, 96);
    assert.is(saln.imagesBackpropagated, 96);
    assert.is(saln.forwardPasses, 96);
    assert.ok(saln.selectionSecondsPerStep > 0 && saln.selectionShare > 0 && saln.selectionShare < 1);
    const md = readFileSync(join(out, 'summary.md'), 'utf8');
    for (const name of ['none', 'random', 'saln']) assert.match(md, new RegExp(`\\| ${name} `));
    assert.match(r.stdout, /\| saln /);
    const pictures = readdirSync(join(out, 'pictures'));
    for (const chart of ['accuracy-vs-seconds', 'accuracy-vs-images', 'loss-vs-steps', 'none-weights', 'saln-weights']) {
      for (const p of [`${chart}.svg`, `${chart}.png`]) assert.ok(pictures.includes(p), `${p} in ${pictures}`);
    }
    for (const suffix of ['-grid.png', '-fiedler.svg', '-fiedler.png', '-similarity.png']) assert.ok(pictures.some((p) => p.startsWith('saln-') && p.endsWith(suffix)), `saln *${suffix}`);
    assert.ok(pictures.some((p) => p.startsWith('random-') && p.endsWith('-grid.png')));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test.run();
