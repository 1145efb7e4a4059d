// report.html opened in a real headless browser (Debian's chromium, installed by `npm run setup`): a compare run
// of seconds, then the page must load with no console error and no fetched resource, every image and chart must
// have a size, the summary table must hold summary.json's values, and a screenshot is saved.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Browser, findChromium } from './browser.ts';
import { removeTempDirs, saln, tempDir, TINY } from './saln-cli.ts';

const chromium = findChromium();
export const SCREENSHOT = join(tmpdir(), 'report-screenshot.png');

test('compare writes report.html: it loads cleanly, every picture has a size, the table is summary.json', async () => {
  if (!chromium) {
    // CI installs chromium through scripts/setup.sh, so there this never skips.
    console.warn('SKIPPED: no chromium on PATH; run npm run setup');
    return;
  }
  const out = tempDir('saln-report-');
  const r = saln(['compare', ...TINY, '--selectors', 'none,saln', '--reference-limit', '32', '--keep', '0.5', '--epochs', '1', '--eval-every', '2', '--eval-subset', '32', '--grids', '1', '--target', '0.2', '--out', out]);
  assert.is(r.status, 0, r.stderr);
  const page = join(out, 'report.html');
  assert.ok(existsSync(page), 'report.html written');
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
  const svgFiles = readdirSync(join(out, 'pictures')).filter((f) => f.endsWith('.svg'));

  const browser = await Browser.launch(chromium);
  try {
    await browser.open(pathToFileURL(page).href);
    const seen = await browser.evaluate<{
      images: { alt: string; natural: number[]; box: number[] }[]; svgs: number[][]; resources: string[]; external: string[];
      header: string[]; rows: string[][]; texts: string[][]; moments: number; headings: string[];
    }>(`(() => {
      const box = (e) => { const r = e.getBoundingClientRect(); return [r.width, r.height]; };
      const table = document.querySelector('#summary');
      return {
        images: [...document.images].map((i) => ({ alt: i.alt, natural: [i.naturalWidth, i.naturalHeight], box: box(i) })),
        svgs: [...document.querySelectorAll('figure > svg')].map(box),
        resources: performance.getEntriesByType('resource').map((e) => e.name),
        external: [...document.querySelectorAll('[src],[href]')].map((e) => e.getAttribute('src') ?? e.getAttribute('href')).filter((u) => !u.startsWith('data:') && !u.startsWith('#')),
        header: [...table.querySelectorAll('thead th')].map((th) => th.textContent),
        rows: [...table.querySelectorAll('tbody tr')].map((tr) => [...tr.children].map((td) => td.dataset.value)),
        texts: [...table.querySelectorAll('tbody tr')].map((tr) => [...tr.children].map((td) => td.textContent)),
        moments: document.querySelectorAll('#weight-moments tbody tr').length,
        headings: [...document.querySelectorAll('h2')].map((h) => h.textContent),
      };
    })()`);
    assert.equal(browser.problems, { console: [], exceptions: [], log: [] }, 'no console error, exception or failed load');
    assert.equal(seen.external, [], 'nothing outside the page is referenced');
    assert.ok(seen.resources.every((name) => name.startsWith('data:')), `fetched: ${seen.resources}`);
    assert.equal(seen.headings, ['Summary', 'Charts', 'Selections', 'Weights', 'Settings']);

    assert.ok(seen.images.length >= 2, 'the kept/dropped grids and the similarity picture');
    for (const image of seen.images) {
      assert.ok(image.natural[0] > 0 && image.natural[1] > 0, `${image.alt} decoded`);
      assert.ok(image.box[0] > 0 && image.box[1] > 0, `${image.alt} laid out`);
    }
    assert.ok(seen.images.some((i) => /similarity/.test(i.alt)) && seen.images.some((i) => /grid/.test(i.alt)));
    assert.is(seen.svgs.length, svgFiles.length, 'every chart of pictures/ is inline');
    for (const [w, h] of seen.svgs) assert.ok(w > 50 && h > 50, `a chart of ${w}x${h}`);

    // The table is summary.json's rows, cell for cell (each cell holds its raw value beside the formatted text).
    assert.is(seen.rows.length, summary.rows.length);
    summary.rows.forEach((row: Record<string, unknown>, i: number) => {
      for (const [key, value] of Object.entries(row)) {
        const column = seen.header.indexOf(key);
        assert.ok(column >= 0, `column ${key}`);
        assert.equal(JSON.parse(seen.rows[i][column]), value, `${row.selector} ${key}`);
      }
      assert.is(seen.texts[i][seen.header.indexOf('selector')], row.selector);
      assert.is(seen.texts[i][seen.header.indexOf('finalAccuracy')], `${(100 * (row.finalAccuracy as number)).toFixed(2)}%`);
    });
    // Per layer and selector: 20 convolutions and fc of ResNet-18, for both selectors.
    assert.is(seen.moments, 21 * summary.rows.length);

    const png = await browser.screenshot();
    assert.equal([...png.subarray(1, 4)].map((b) => String.fromCharCode(b)).join(''), 'PNG');
    assert.ok(png.length > 20_000, `a screenshot of ${png.length} bytes is blank`);
    writeFileSync(SCREENSHOT, png);
    console.log(`screenshot of the compare report: ${SCREENSHOT}`);
  } finally {
    await browser.close();
  }
});

test.after(removeTempDirs);
test.run();
