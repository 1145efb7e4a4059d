// report.html: one self-contained page per run (no network, no server, no script), to look at a run the way one
// looks at TensorBoard: the summary table, every chart inline as SVG, the selection pictures as data: URIs, the
// weight distributions compared across runs on shared bins with their moments, and the run's settings. Built
// only from what the run wrote into its directory, so it can be rebuilt at any time.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { writeFileAtomic } from '../util/atomic.ts';
import { readMetrics } from '../train/metrics.ts';
import { accuracyChart, lossChart, weightHistograms } from './charts.ts';
import { compareWeights, readWeightLayers, sharedBinsChart, type LayerMoments } from './weight-stats.ts';

export const REPORT_FILE = 'report.html';

interface PageSource {
  title: string;
  /** The JSON summary the table is drawn from (summary.json, study.json). */
  summary: Record<string, unknown>;
  summaryFile: string;
  /** The array of row objects in `summary` (compare's rows, a study's arms); absent: the summary's own fields. */
  rowsKey?: string;
  /** The object in `summary` that holds the run's settings. */
  settingsKey: string;
  /** Run label -> model.safetensors, for the weight comparison. */
  weightRuns: Map<string, string>;
}

/** `saln train`: loss and accuracy charts drawn from metrics.jsonl, the model's weights, the run's settings. */
export async function writeTrainReport(out: string): Promise<string> {
  const pictures = join(out, 'pictures');
  const metricsFile = join(out, 'metrics.jsonl');
  if (existsSync(metricsFile)) {
    const records = readMetrics(metricsFile).records;
    const losses = records.filter((r) => r.kind === 'step').map((r) => ({ step: r.step as number, loss: r.loss as number }));
    const evals = records.filter((r) => r.kind === 'eval').map((r) => ({ seconds: r.trainSeconds as number, images: r.imagesTrained as number, accuracy: r.accuracy as number }));
    if (losses.length) await lossChart(join(pictures, 'loss-vs-steps.svg'), [{ selector: 'this run', points: losses }]);
    if (evals.length) await accuracyChart(join(pictures, 'accuracy-vs-seconds.svg'), [{ selector: 'this run', points: evals }], 'seconds');
  }
  const model = join(out, 'model.safetensors');
  const weightRuns = new Map(existsSync(model) ? [['model', model]] : []);
  if (existsSync(model)) await weightHistograms(join(pictures, 'model-weights.svg'), [...readWeightLayers(model)].map(([name, values]) => ({ name, values })));
  return writePage(out, { title: `saln train: ${basename(out)}`, ...readSummary(out, 'summary.json'), settingsKey: 'config', weightRuns });
}

/** `saln compare`: the selectors' rows, their charts and pictures, their weights compared layer by layer. */
export async function writeCompareReport(out: string): Promise<string> {
  const source = readSummary(out, 'summary.json');
  const rows = (source.summary.rows ?? []) as { selector: string }[];
  const weightRuns = new Map<string, string>();
  for (const { selector } of rows) {
    const file = join(out, 'runs', selector, 'model.safetensors');
    if (existsSync(file)) weightRuns.set(selector, file);
  }
  return writePage(out, { title: `saln compare: ${basename(out)}`, ...source, rowsKey: 'rows', settingsKey: 'config', weightRuns });
}

/** `saln study merge`: the arms' table and the study's charts. */
export async function writeStudyReport(out: string): Promise<string> {
  return writePage(out, { title: `saln study: ${basename(out)}`, ...readSummary(out, 'study.json'), rowsKey: 'arms', settingsKey: 'preset', weightRuns: new Map() });
}

function readSummary(out: string, name: string): { summary: Record<string, unknown>; summaryFile: string } {
  const summaryFile = join(out, name);
  return { summary: existsSync(summaryFile) ? JSON.parse(readFileSync(summaryFile, 'utf8')) : {}, summaryFile: name };
}

async function writePage(out: string, source: PageSource): Promise<string> {
  const pictures = join(out, 'pictures');
  const sections: string[] = [];
  sections.push(`<h2>Summary</h2>\n${summaryTable(source)}`);

  let weightSection = '';
  if (source.weightRuns.size > 0) {
    const runs = new Map([...source.weightRuns].map(([label, file]) => [label, readWeightLayers(file)]));
    const { layers, moments } = compareWeights(runs);
    await sharedBinsChart(join(pictures, 'weights-shared-bins.svg'), runs, layers);
    weightSection = `<h2>Weights</h2>\n<p>Each layer's weights from every run on the same bins; then each run's own histograms.</p>\n${inlineSvg(join(pictures, 'weights-shared-bins.svg'), 'weights')}\n${momentsTable(moments)}`;
  }
  const files = existsSync(pictures) ? readdirSync(pictures).sort() : [];
  const svgs = files.filter((f) => f.endsWith('.svg') && f !== 'weights-shared-bins.svg');
  const charts = svgs.filter((f) => !f.endsWith('-weights.svg'));
  const histograms = svgs.filter((f) => f.endsWith('-weights.svg'));
  // PNG copies of the SVG charts are for viewers without SVG; the page has the SVG itself.
  const rasters = files.filter((f) => f.endsWith('.png') && !files.includes(f.replace(/\.png$/, '.svg')));
  if (charts.length) sections.push(`<h2>Charts</h2>\n${charts.map((f, i) => inlineSvg(join(pictures, f), `chart${i}`)).join('\n')}`);
  if (rasters.length) sections.push(`<h2>Selections</h2>\n<p>Kept (green border) and dropped (red) images of a few super-batches; SALN's similarity matrix sorted by the Fiedler vector.</p>\n${rasters.map((f) => pngFigure(join(pictures, f))).join('\n')}`);
  if (weightSection || histograms.length) sections.push(`${weightSection || '<h2>Weights</h2>'}\n${histograms.map((f, i) => inlineSvg(join(pictures, f), `hist${i}`)).join('\n')}`);
  const settings = source.summary[source.settingsKey];
  if (settings && typeof settings === 'object') sections.push(`<h2>Settings</h2>\n${keyValueTable(flatten(settings as Record<string, unknown>), 'settings')}`);

  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(source.title)}</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5rem auto; max-width: 1200px; padding: 0 1rem; color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
thead th { background: #f2f2f2; }
figure { display: inline-block; margin: 0.5rem 1rem 1rem 0; vertical-align: top; }
figcaption { color: #555; font-size: 12px; }
svg, img { max-width: 100%; height: auto; }
img { image-rendering: pixelated; border: 1px solid #ddd; }
</style>
</head>
<body>
<h1>${escape(source.title)}</h1>
<p>From <code>${escape(source.summaryFile)}</code> and <code>pictures/</code> in ${escape(out)}; written ${new Date().toISOString()}.</p>
${sections.join('\n')}
</body>
</html>
`;
  const path = join(out, REPORT_FILE);
  writeFileAtomic(path, html);
  return path;
}

/** Every cell carries its raw value (data-value), so a reader or a test can check the page against the JSON. */
function summaryTable(source: PageSource): string {
  const rows = source.rowsKey ? source.summary[source.rowsKey] : undefined;
  if (!Array.isArray(rows)) {
    const scalar = Object.entries(flatten(source.summary)).filter(([key]) => !key.startsWith(`${source.settingsKey}.`));
    return keyValueTable(Object.fromEntries(scalar), 'summary');
  }
  const flat = rows.map((row) => flatten(row as Record<string, unknown>));
  const columns = [...new Set(flat.flatMap((row) => Object.keys(row)))];
  const head = `<tr>${columns.map((c) => `<th>${escape(c)}</th>`).join('')}</tr>`;
  const body = flat.map((row) => `<tr>${columns.map((c) => cell(c, row[c])).join('')}</tr>`).join('\n');
  return `<table id="summary" data-source="${escape(source.summaryFile)}"><thead>${head}</thead><tbody>\n${body}\n</tbody></table>`;
}

function keyValueTable(entries: Record<string, unknown>, id: string): string {
  const body = Object.entries(entries).map(([key, value]) => `<tr><th scope="row" data-key="${escape(key)}">${escape(key)}</th>${cell(key, value)}</tr>`).join('\n');
  return `<table id="${id}"><tbody>\n${body}\n</tbody></table>`;
}

function momentsTable(moments: LayerMoments[]): string {
  const body = moments.map((m) => `<tr><td>${escape(m.layer)}</td><td>${escape(m.run)}</td><td>${m.count}</td><td>${m.mean.toExponential(3)}</td><td>${m.std.toExponential(3)}</td><td>${m.kurtosis.toFixed(3)}</td></tr>`).join('\n');
  return `<table id="weight-moments"><thead><tr><th>layer</th><th>run</th><th>weights</th><th>mean</th><th>std</th><th>excess kurtosis</th></tr></thead><tbody>\n${body}\n</tbody></table>`;
}

/** Nested objects become dotted keys (finalEval.accuracy); arrays of numbers stay one cell. */
function flatten(object: Record<string, unknown>, prefix = ''): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(object)) {
    if (value && typeof value === 'object' && !Array.isArray(value)) Object.assign(out, flatten(value as Record<string, unknown>, `${prefix}${key}.`));
    else out[`${prefix}${key}`] = value;
  }
  return out;
}

function cell(key: string, value: unknown): string {
  const raw = value === undefined ? '' : JSON.stringify(value);
  return `<td data-value="${escape(raw)}">${escape(format(key, value))}</td>`;
}

function format(key: string, value: unknown): string {
  if (value === null || value === undefined) return '–';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return String(value);
    if (/accuracy|share/i.test(key) && Math.abs(value) <= 1) return `${(100 * value).toFixed(2)}%`;
    if (Number.isInteger(value)) return String(value).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
    return Math.abs(value) >= 0.01 && Math.abs(value) < 1e6 ? value.toFixed(Math.abs(value) < 10 ? 4 : 2) : value.toExponential(3);
  }
  if (Array.isArray(value)) return value.map((v) => (typeof v === 'number' ? Number(v.toPrecision(4)) : v)).join(', ');
  return String(value);
}

/** An SVG file inline, its ids prefixed: Vega numbers clip paths per process, so two charts can share an id. */
function inlineSvg(path: string, prefix: string): string {
  const svg = readFileSync(path, 'utf8').replace(/^<\?xml[^>]*>\s*/, '')
    .replace(/\bid="([^"]+)"/g, `id="${prefix}-$1"`)
    .replace(/url\(#([^)]+)\)/g, `url(#${prefix}-$1)`)
    .replace(/href="#([^"]+)"/g, `href="#${prefix}-$1"`);
  return `<figure>${svg}<figcaption>${escape(basename(path))}</figcaption></figure>`;
}

function pngFigure(path: string): string {
  const bytes = readFileSync(path);
  // Width and height from the IHDR chunk, so the layout holds its place before the image decodes.
  const width = bytes.readUInt32BE(16), height = bytes.readUInt32BE(20);
  return `<figure><img src="data:image/png;base64,${bytes.toString('base64')}" width="${width}" height="${height}" alt="${escape(basename(path))}"><figcaption>${escape(basename(path))}</figcaption></figure>`;
}

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
