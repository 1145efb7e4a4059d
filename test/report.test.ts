// The pictures and summary of `saln compare`: each writer leaves one well-formed file (SVG that nests
// properly and names what it shows; PNG that decodes to the planned size with the planned pixels), and the
// summary's verdict line names winners, ties and missed targets plainly.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decode } from 'fast-png';
import { accuracyChart, binValues, fiedlerChart, lossChart, weightHistograms } from '../src/report/charts.ts';
import { DROPPED_BORDER, KEPT_BORDER, divergingColour, selectionGrid, similarityImage } from '../src/report/images.ts';
import { summaryMarkdown, type SummaryRow } from '../src/report/markdown.ts';

const dir = mkdtempSync(join(tmpdir(), 'saln-report-'));
const at = (name: string) => join(dir, name);

/** Every opened tag is closed in order, and the document is one <svg> element. */
function assertWellFormedSvg(svg: string) {
  assert.ok(svg.startsWith('<svg'), 'starts with <svg');
  assert.ok(svg.trimEnd().endsWith('</svg>'), 'ends with </svg>');
  const stack: string[] = [];
  for (const [, closing, name, selfClosing] of svg.matchAll(/<(\/?)([A-Za-z][\w:-]*)[^>]*?(\/?)>/g)) {
    if (closing) assert.is(stack.pop(), name, `</${name}> closes what was opened`);
    else if (!selfClosing) stack.push(name);
  }
  assert.equal(stack, [], 'every tag closed');
}

/** Visible text of the SVG, entities decoded, so names can be looked for whole. */
function svgText(svg: string): string {
  return [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1].replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'")).join('\n');
}

const noTempFiles = () => assert.equal(readdirSync(dir).filter((f) => f.includes('.tmp-')), []);

function pixel(png: ReturnType<typeof decode>, y: number, x: number): number[] {
  const o = (y * png.width + x) * png.channels;
  return [...png.data.slice(o, o + 3)];
}

test('accuracy chart: one line per selector, legend and axis titles, for both x axes', async () => {
  const long = 'a-selector-with-a-rather-long-name';
  const series = ['saln', 'random', long].map((selector, k) => ({
    selector,
    points: [0, 1, 2, 3].map((i) => ({ seconds: 10 * i + k, images: 1000 * i, accuracy: 0.5 + 0.1 * i - 0.01 * k })),
  }));
  series[1].points.push({ seconds: 45, images: 5000, accuracy: NaN });
  for (const x of ['seconds', 'images'] as const) {
    await accuracyChart(at(`accuracy-${x}.svg`), series, x);
    const svg = readFileSync(at(`accuracy-${x}.svg`), 'utf8');
    assertWellFormedSvg(svg);
    const text = svgText(svg);
    for (const name of ['saln', 'random', long, 'Selector', 'Test accuracy']) assert.ok(text.includes(name), `shows ${name}`);
    assert.ok(text.includes(x === 'seconds' ? 'Wall time (s)' : 'Images back-propagated'));
    assert.ok(text.includes('70%'), 'accuracy axis in percent');
    assert.is((svg.match(/class="mark-line role-mark/g) ?? []).length, series.length, "one line per selector");
    assert.not.ok(svg.includes('NaN'), 'a NaN accuracy is left out, not drawn');
    // The PNG beside it: the SVG's size doubled, and drawn (dark pixels of lines and text on white).
    const png = decode(readFileSync(at(`accuracy-${x}.png`)));
    const [, w, h] = /<svg[^>]*width="(\d+)" height="(\d+)"/.exec(svg)!.map(Number);
    assert.is(png.width, 2 * w);
    assert.is(png.height, 2 * h);
    let dark = 0;
    for (let i = 0; i < png.data.length; i += png.channels) if (png.data[i] < 100 && png.data[i + 1] < 100 && png.data[i + 2] < 100) dark++;
    assert.ok(dark > 1000, `only ${dark} dark pixels: nothing drawn`);
  }
  noTempFiles();
});

test('loss chart: smoothed lines, the title says so, long runs thinned', async () => {
  const points = (offset: number) => Array.from({ length: 5000 }, (_, step) => ({ step, loss: 2 / (1 + step / 500) + offset + (step % 2 ? 0.3 : -0.3) }));
  const saln = points(0);
  saln[10].loss = NaN;
  await lossChart(at('loss.svg'), [{ selector: 'saln', points: saln }, { selector: 'random', points: points(0.1) }]);
  const svg = readFileSync(at('loss.svg'), 'utf8');
  assertWellFormedSvg(svg);
  const text = svgText(svg);
  for (const name of ['saln', 'random', 'Step', 'Training loss', 'moving average of the last 25 logged values']) assert.ok(text.includes(name), `shows ${name}`);
  assert.not.ok(svg.includes('NaN'));
  // 2 lines of at most 1000 points: a few tens of kB, not the megabytes of 10,000 raw points.
  assert.ok(svg.length < 150_000, `${svg.length} bytes`);
  await lossChart(at('loss-short.svg'), [{ selector: 'saln', points: [{ step: 1, loss: 2 }, { step: 2, loss: 1.5 }] }]);
  assert.ok(svgText(readFileSync(at('loss-short.svg'), 'utf8')).split('\n').includes('Training loss'), 'no smoothing claimed for a short run');
});

test('Fiedler chart: sorted entries, kept ones coloured, a zero rule', async () => {
  const fiedler = new Float32Array([0.3, -0.2, 0.1, -0.4, 0.25, -0.05, 0.02, -0.3]);
  await fiedlerChart(at('fiedler.svg'), fiedler, [1, 4, 6]);
  const svg = readFileSync(at('fiedler.svg'), 'utf8');
  assertWellFormedSvg(svg);
  const text = svgText(svg);
  for (const name of ['kept', 'dropped', '3 of 8 kept', 'Fiedler vector entry', 'Rank (ascending Fiedler value)']) assert.ok(text.includes(name), `shows ${name}`);
  assert.ok(svg.includes('class="mark-rule role-mark'), 'zero rule drawn');
  // Sorted ascending, the kept entries (-0.2, 0.25, 0.02) sit at ranks 2, 6 and 4, drawn green; negative
  // entries fall below the zero rule (SVG y grows downwards).
  const points = [...svg.matchAll(/aria-label="Rank \(ascending Fiedler value\): (\d+); Fiedler vector entry: ([^;]+); Selection: (\w+)"[^>]*translate\([\d.]+,([\d.]+)\)[^>]*fill="(#[0-9a-f]{6})"/g)]
    .map(([, rank, value, selection, y, fill]) => ({ rank: Number(rank), negative: value.startsWith('−'), selection, y: Number(y), fill }));
  assert.is(points.length, 8);
  assert.equal(points.filter((p) => p.selection === 'kept').map((p) => p.rank).sort(), [2, 4, 6]);
  assert.ok(points.every((p) => p.fill === (p.selection === 'kept' ? '#1a9641' : '#b0b0b0')), 'kept in green, dropped in grey');
  const zeroY = Number(/aria-label="zero: 0"[^>]*translate\([\d.]+,([\d.]+)\)/.exec(svg)![1]);
  assert.ok(points.every((p) => p.negative === p.y > zeroY), 'the zero rule splits the signs');
  await fiedlerChart(at('fiedler-typed.svg'), fiedler, new Uint32Array([0]));
  try {
    await fiedlerChart(at('bad.svg'), fiedler, [8]);
    assert.unreachable('an index past the end must throw');
  } catch (e) {
    assert.match((e as Error).message, /kept index 8 is outside/);
  }
  noTempFiles();
});

test('weight histograms: binned on the CPU, one panel per layer, small however many weights', async () => {
  const big = new Float32Array(200_000);
  for (let i = 0; i < big.length; i++) big[i] = Math.sin(i * 12.9898) * 0.05;
  const layers = [
    { name: 'conv1.weight', values: big },
    { name: 'layer4.1.conv2.weight', values: new Float32Array([1, 1, 1]) },
    { name: 'fc.weight', values: new Float32Array([-1, 0, Infinity, 2]) },
  ];
  await weightHistograms(at('weights.svg'), layers);
  const svg = readFileSync(at('weights.svg'), 'utf8');
  assertWellFormedSvg(svg);
  const text = svgText(svg);
  for (const name of ['conv1.weight (n=200,000)', 'layer4.1.conv2.weight (n=3)', 'fc.weight (n=4, 1 non-finite)', 'Weight', 'Count']) assert.ok(text.includes(name), `shows ${name}`);
  assert.ok(svg.length < 200_000, `${svg.length} bytes`);
  const bins = binValues(big, 40);
  assert.is(bins.counts.reduce((a, b) => a + b, 0), big.length);
  assert.ok(bins.counts[0] > 0 && bins.counts[39] > 0, 'min and max fall in the end bins');
  assert.equal(binValues(new Float32Array([1, 1]), 4), { lo: 0.5, width: 0.25, counts: [0, 0, 2, 0], nonFinite: 0 });
  try {
    await weightHistograms(at('dup.svg'), [layers[0], layers[0]]);
    assert.unreachable('a repeated name would merge two panels');
  } catch (e) {
    assert.match((e as Error).message, /appears twice/);
  }
});

test('selection grid: size, green and red frames, grey expanded to RGB, dropped dimmed', () => {
  const [h, w, count] = [4, 6, 5];
  const pixels = new Uint8Array(count * h * w).map((_, i) => 100 + Math.floor(i / (h * w)) * 30);
  selectionGrid(at('grid.png'), { height: h, width: w, channels: 1, pixels }, [0, 3], { columns: 3, scale: 2 });
  const png = decode(readFileSync(at('grid.png')));
  const [cellH, cellW] = [h * 2 + 4, w * 2 + 4];
  assert.is(png.width, 2 + 3 * (cellW + 2));
  assert.is(png.height, 2 + 2 * (cellH + 2));
  const cellOrigin = (n: number) => [2 + Math.floor(n / 3) * (cellH + 2), 2 + (n % 3) * (cellW + 2)];
  for (let n = 0; n < count; n++) {
    const [top, left] = cellOrigin(n);
    const kept = n === 0 || n === 3;
    assert.equal(pixel(png, top, left), [...(kept ? KEPT_BORDER : DROPPED_BORDER)], `cell ${n} border`);
    assert.equal(pixel(png, top + cellH - 1, left + cellW - 1), [...(kept ? KEPT_BORDER : DROPPED_BORDER)], `cell ${n} far corner`);
    const grey = 100 + n * 30;
    const shown = kept ? grey : Math.round(grey * 0.4);
    assert.equal(pixel(png, top + 2 + 3, left + 2 + 5), [shown, shown, shown], `cell ${n} inside`);
  }
  // The empty sixth cell stays background.
  const [top, left] = cellOrigin(5);
  assert.equal(pixel(png, top, left), [255, 255, 255]);

  const rgb = new Uint8Array(2 * 3 * 3 * 3);
  for (let i = 0; i < rgb.length; i += 3) rgb.set([10, 120, 230], i);
  selectionGrid(at('grid-rgb.png'), { height: 3, width: 3, channels: 3, pixels: rgb }, new Uint32Array([1]), { columns: 2, scale: 1 });
  const colour = decode(readFileSync(at('grid-rgb.png')));
  assert.is(colour.width, 2 + 2 * (3 + 4 + 2));
  assert.equal(pixel(colour, 2 + 2, 2 + 2), [4, 48, 92], 'dropped image dimmed');
  assert.equal(pixel(colour, 2 + 2, 2 + 9 + 2), [10, 120, 230], 'kept image as is');
  assert.throws(() => selectionGrid(at('bad.png'), { height: 3, width: 3, channels: 3, pixels: rgb }, [2]), /index 2 is outside/);
  assert.throws(() => selectionGrid(at('bad.png'), { height: 4, width: 3, channels: 3, pixels: rgb }, []), /not a whole number/);
  noTempFiles();
});

test('selection grid: default scale doubles 28x28 images and keeps large batches under 2048 px', () => {
  selectionGrid(at('mnist.png'), { height: 28, width: 28, channels: 1, pixels: new Uint8Array(4 * 28 * 28) }, [0]);
  assert.is(decode(readFileSync(at('mnist.png'))).width, 2 + 2 * (56 + 4 + 2));
  selectionGrid(at('wide.png'), { height: 16, width: 64, channels: 1, pixels: new Uint8Array(256 * 16 * 64) }, [0]);
  assert.ok(decode(readFileSync(at('wide.png'))).width <= 2048);
});

test('similarity image: the given order gathers interleaved clusters into diagonal blocks', () => {
  const B = 8;
  const cluster = (i: number) => i % 2;
  const similarity = new Float32Array(B * B).map((_, k) => (cluster(Math.floor(k / B)) === cluster(k % B) ? 0.9 : -0.6));
  const order = [0, 2, 4, 6, 1, 3, 5, 7];
  similarityImage(at('similarity.png'), similarity, order, { cellSize: 4 });
  const png = decode(readFileSync(at('similarity.png')));
  assert.is(png.width, 32);
  assert.is(png.height, 32);
  const [red, blue] = [divergingColour(0.9).map(Math.round), divergingColour(-0.6).map(Math.round)];
  assert.ok(red[0] > red[2] && blue[2] > blue[0], 'positive is red, negative is blue');
  for (let i = 0; i < B; i++) {
    for (let j = 0; j < B; j++) {
      const sameBlock = i < 4 === j < 4;
      assert.equal(pixel(png, i * 4 + 1, j * 4 + 2), sameBlock ? red : blue, `cell ${i},${j}`);
    }
  }
  // Unpermuted, the same matrix is a checkerboard.
  similarityImage(at('similarity-identity.png'), similarity, [...Array(B).keys()], { cellSize: 1 });
  const identity = decode(readFileSync(at('similarity-identity.png')));
  assert.equal(pixel(identity, 0, 1), blue);
  assert.equal(pixel(identity, 0, 2), red);
  assert.equal(divergingColour(-1), [5, 113, 176]);
  assert.equal(divergingColour(0), [247, 247, 247]);
  assert.equal(divergingColour(7), [202, 0, 32]);
  similarityImage(at('similarity-64.png'), new Float32Array(64 * 64), [...Array(64).keys()]);
  assert.is(decode(readFileSync(at('similarity-64.png'))).width, 256, '4 px per cell for 64x64');
  assert.throws(() => similarityImage(at('bad.png'), similarity, [0, 0, 1, 2, 3, 4, 5, 6]), /not a permutation/);
  assert.throws(() => similarityImage(at('bad.png'), new Float32Array(10), []), /square/);
  noTempFiles();
});

const row = (selector: string, over: Partial<SummaryRow> = {}): SummaryRow => ({
  selector,
  finalAccuracy: 0.85,
  bestAccuracy: 0.86,
  seconds: 120,
  imagesBackpropagated: 123456,
  forwardPasses: 246912,
  secondsToTarget: 60,
  imagesToTarget: 61440,
  selectionSecondsPerStep: 0.0123,
  selectionShare: 0.125,
  ...over,
});

test('summary table: units, percentages to 2 decimals, a dash for a target never reached', () => {
  const md = summaryMarkdown([row('saln'), row('random', { secondsToTarget: null, imagesToTarget: null, finalAccuracy: 0.8412345 })], 0.8, 'Dataset fashion-mnist, seed 1.');
  const lines = md.split('\n');
  const header = lines[0].split('|').slice(1, -1).map((c) => c.trim());
  assert.equal(header, ['Selector', 'Final accuracy (%)', 'Best accuracy (%)', 'Time to 80.00% (s)', 'Images to 80.00%', 'Wall time (s)', 'Images back-propagated', 'Forward passes', 'Selection (ms/step)', 'Selection share (%)']);
  assert.is(lines[1].split('|').length, lines[0].split('|').length);
  assert.equal(lines[2].split('|').slice(1, -1).map((c) => c.trim()), ['saln', '85.00', '86.00', '60.0', '61,440', '120.0', '123,456', '246,912', '12.30', '12.50']);
  assert.equal(lines[3].split('|').slice(1, -1).map((c) => c.trim()).slice(0, 5), ['random', '84.12', '86.00', '—', '—']);
  assert.ok(md.trimEnd().endsWith('Dataset fashion-mnist, seed 1.'));
  assert.match(md, /Fastest to 80\.00%: saln \(60\.0 s\)\./);
  assert.match(md, /Best final accuracy: saln \(85\.00%\)\./);
  assert.match(md, /saln against random: on time to 80\.00%, saln beat random \(60\.0 s; random never reached 80\.00%\); on final accuracy, saln beat random \(85\.00% against 84\.12%\)\./);
});

test('summary verdict: ties are ties, losses are losses, no comparison without both', () => {
  const tie = summaryMarkdown([row('saln', { secondsToTarget: 50.04 }), row('random', { secondsToTarget: 49.96, finalAccuracy: 0.850001 }), row('loss', { finalAccuracy: 0.84 })], 0.8);
  assert.match(tie, /Fastest to 80\.00%: tie between saln and random \(50\.0 s\)\./);
  assert.match(tie, /Best final accuracy: tie between saln and random \(85\.00%\)\./);
  assert.match(tie, /on time to 80\.00%, tie \(50\.0 s each\); on final accuracy, tie \(85\.00% each\)\./);
  const verdictLines = tie.split('\n').filter((l) => l.startsWith('Fastest'));
  assert.is(verdictLines.length, 1, 'the verdict is one line');

  const lost = summaryMarkdown([row('random', { secondsToTarget: 40, finalAccuracy: 0.9 }), row('saln', { secondsToTarget: 55 })], 0.8);
  assert.match(lost, /Fastest to 80\.00%: random \(40\.0 s\)\./);
  assert.match(lost, /on time to 80\.00%, saln did not beat random \(55\.0 s against 40\.0 s\); on final accuracy, saln did not beat random \(85\.00% against 90\.00%\)\./);

  const missed = summaryMarkdown([row('saln', { secondsToTarget: null }), row('random', { secondsToTarget: null })], 0.95);
  assert.match(missed, /Fastest to 95\.00%: none \(no selector reached it\)\./);
  assert.match(missed, /on time to 95\.00%, neither reached it;/);
  assert.is((missed.match(/\| — \|/g) ?? []).length, 2);

  const alone = summaryMarkdown([row('saln'), row('rho', { finalAccuracy: 0.87, secondsToTarget: 7.5 })], 0.8);
  assert.not.match(alone, /against random/);
  assert.match(alone, /Fastest to 80\.00%: rho \(7\.50 s\)\. Best final accuracy: rho \(87\.00%\)\./);
  assert.match(summaryMarkdown([], 0.8), /No runs\./);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
