// Charts for `saln compare`, drawn with Vega-Lite and rendered headless by Vega to SVG (no canvas in Node),
// then rasterised to a PNG beside it by resvg for viewers that show no SVG. Data is reduced on the CPU (smoothing, thinning, binning) so that a spec, and the
// SVG drawn from it, stays small however long the run or however many weights the model has.
import { writeFileAtomic } from '../util/atomic.ts';
import { parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { Resvg } from '@resvg/resvg-js';

export interface AccuracySeries {
  selector: string;
  /** `accuracy` is a fraction in [0, 1]; the axis shows it as a percentage. */
  points: { seconds: number; images: number; accuracy: number }[];
}

export interface LossSeries {
  selector: string;
  points: { step: number; loss: number }[];
}

export interface WeightLayer {
  name: string;
  values: Float32Array;
}

const KEPT_COLOUR = '#1a9641';
const DROPPED_COLOUR = '#b0b0b0';
/** Beyond this many points a line is thinned: more cannot be told apart at chart width, they only bloat the SVG. */
const MAX_LINE_POINTS = 1000;
const HISTOGRAM_BINS = 40;

/**
 * Without node-canvas, Vega estimates text width as 0.8 x font size per character (about 1.5x the real width
 * of a sans-serif font), and cuts any label longer than its limit with an ellipsis. Raising the limits keeps
 * selector and layer names whole; the only cost of the overestimate is some spare room around legends.
 */
const CONFIG = {
  legend: { labelLimit: 1000, titleLimit: 1000 },
  axis: { labelLimit: 1000, titleLimit: 1000 },
  header: { labelLimit: 0, labelFontSize: 11 },
  title: { limit: 0 },
};

/** Test accuracy against wall time or against images back-propagated, one line per selector. */
export async function accuracyChart(path: string, series: AccuracySeries[], x: 'seconds' | 'images'): Promise<void> {
  const values = series.flatMap(({ selector, points }) =>
    thin(points.filter((p) => Number.isFinite(p[x]) && Number.isFinite(p.accuracy))).map((p) => ({ selector, x: p[x], accuracy: p.accuracy })),
  );
  const xTitle = x === 'seconds' ? 'Wall time (s)' : 'Images back-propagated';
  await writeChart(path, {
    title: `Test accuracy against ${x === 'seconds' ? 'wall time' : 'images back-propagated'}`,
    width: 480,
    height: 300,
    data: { values },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: xTitle },
      y: { field: 'accuracy', type: 'quantitative', title: 'Test accuracy', axis: { format: '.0%' }, scale: { zero: false } },
      color: selectorColour(series),
    },
  });
}

export interface BandSeries {
  selector: string;
  /** Mean over seeds at each evaluation, with the band drawn from lo to hi (e.g. mean +- one standard deviation). */
  points: { x: number; mean: number; lo: number; hi: number }[];
}

/** Test accuracy over seeds: a line at the mean and a band around it per arm (a study's paired seeds). */
export async function accuracyBandChart(path: string, series: BandSeries[], xTitle: string, title: string): Promise<void> {
  const values = series.flatMap(({ selector, points }) => points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.mean)).map((p) => ({ selector, ...p })));
  const x = { field: 'x', type: 'quantitative' as const, title: xTitle };
  await writeChart(path, {
    title, width: 480, height: 300, data: { values },
    encoding: { x, color: selectorColour(series) },
    layer: [
      { mark: { type: 'area', opacity: 0.18 }, encoding: { y: { field: 'lo', type: 'quantitative', title: 'Test accuracy', axis: { format: '.0%' }, scale: { zero: false } }, y2: { field: 'hi' } } },
      { mark: { type: 'line' }, encoding: { y: { field: 'mean', type: 'quantitative' } } },
    ],
  } as TopLevelSpec);
}

/**
 * Training loss against step. Per-step loss is noisy, so each line is a trailing moving average over the same
 * number of logged points for every selector (the title says how many), then thinned to at most
 * MAX_LINE_POINTS points. Non-finite losses (a diverged run) are left out rather than breaking the scale.
 */
export async function lossChart(path: string, series: LossSeries[]): Promise<void> {
  const longest = Math.max(0, ...series.map((s) => s.points.length));
  const window = Math.min(25, Math.max(1, Math.floor(longest / 40)));
  const values = series.flatMap(({ selector, points }) => {
    const finite = points.filter((p) => Number.isFinite(p.step) && Number.isFinite(p.loss));
    return thin(movingAverage(finite, window)).map((p) => ({ selector, step: p.step, loss: p.loss }));
  });
  await writeChart(path, {
    title: window > 1 ? `Training loss (moving average of the last ${window} logged values)` : 'Training loss',
    width: 480,
    height: 300,
    data: { values },
    mark: 'line',
    encoding: {
      x: { field: 'step', type: 'quantitative', title: 'Step' },
      y: { field: 'loss', type: 'quantitative', title: 'Training loss', scale: { zero: false } },
      color: selectorColour(series),
    },
  });
}

/**
 * The Fiedler vector's entries in ascending order, kept entries in colour, with a rule at zero: the sign of
 * the Fiedler vector is the two-way spectral cut, so the chart shows which side of it the kept images fall on.
 * `kept` holds indices into `fiedler`.
 */
export async function fiedlerChart(path: string, fiedler: Float32Array, kept: Uint32Array | number[]): Promise<void> {
  const isKept = new Uint8Array(fiedler.length);
  for (const index of kept) {
    if (!Number.isInteger(index) || index < 0 || index >= fiedler.length) {
      throw new RangeError(`fiedlerChart: kept index ${index} is outside the Fiedler vector (length ${fiedler.length})`);
    }
    isKept[index] = 1;
  }
  const order = [...fiedler.keys()].filter((i) => Number.isFinite(fiedler[i])).sort((a, b) => fiedler[a] - fiedler[b]);
  // Six significant digits: float32 widened to float64 prints as -0.40000000596 in every point's ARIA label.
  const values = order.map((index, rank) => ({ rank, value: Number(fiedler[index].toPrecision(6)), selection: isKept[index] ? 'kept' : 'dropped' }));
  const keptCount = isKept.reduce((sum, k) => sum + k, 0);
  const dropped = fiedler.length - order.length;
  await writeChart(path, {
    title: `Fiedler vector, sorted: ${keptCount} of ${fiedler.length} kept${dropped ? ` (${dropped} non-finite entries not shown)` : ''}`,
    width: 480,
    height: 260,
    layer: [
      {
        data: { values },
        mark: { type: 'point', filled: true, size: 24 },
        encoding: {
          x: { field: 'rank', type: 'quantitative', title: 'Rank (ascending Fiedler value)' },
          y: { field: 'value', type: 'quantitative', title: 'Fiedler vector entry' },
          color: {
            field: 'selection',
            type: 'nominal',
            title: 'Selection',
            scale: { domain: ['kept', 'dropped'], range: [KEPT_COLOUR, DROPPED_COLOUR] },
          },
        },
      },
      { data: { values: [{ zero: 0 }] }, mark: { type: 'rule', color: '#444', strokeDash: [4, 3] }, encoding: { y: { field: 'zero', type: 'quantitative' } } },
    ],
  });
}

/**
 * Per-layer histograms of weights (small multiples, one panel per layer, each with its own x range). Binning
 * happens here, HISTOGRAM_BINS per layer, so the spec holds 40 numbers per layer rather than every weight.
 */
export async function weightHistograms(path: string, layers: WeightLayer[]): Promise<void> {
  const seen = new Set<string>();
  for (const { name } of layers) {
    if (seen.has(name)) throw new Error(`weightHistograms: layer name ${JSON.stringify(name)} appears twice`);
    seen.add(name);
  }
  const panels = layers.map(({ name, values }) => {
    const histogram = binValues(values, HISTOGRAM_BINS);
    const label = `${name} (n=${grouped(values.length)}${histogram.nonFinite ? `, ${histogram.nonFinite} non-finite` : ''})`;
    return { label, histogram };
  });
  const values = panels.flatMap(({ label, histogram }) =>
    histogram.counts.map((count, bin) => ({ layer: label, start: histogram.lo + bin * histogram.width, end: histogram.lo + (bin + 1) * histogram.width, count })),
  );
  await writeChart(path, {
    title: `Weight distributions after training (${HISTOGRAM_BINS} bins per layer)`,
    data: { values },
    facet: { field: 'layer', type: 'nominal', title: null, sort: panels.map((p) => p.label) },
    columns: 4,
    spec: {
      width: 180,
      height: 100,
      mark: { type: 'bar', color: '#4c78a8' },
      encoding: {
        x: { field: 'start', type: 'quantitative', title: 'Weight', scale: { zero: false, nice: false } },
        x2: { field: 'end' },
        y: { field: 'count', type: 'quantitative', title: 'Count' },
      },
    },
    resolve: { scale: { x: 'independent', y: 'independent' }, axis: { x: 'independent', y: 'independent' } },
  });
}

/** Fixed-width bins over the finite values' range; a constant layer gets a unit-wide range so it still shows. */
export function binValues(values: Float32Array, bins: number): { lo: number; width: number; counts: number[]; nonFinite: number } {
  let lo = Infinity;
  let hi = -Infinity;
  let nonFinite = 0;
  for (const v of values) {
    if (!Number.isFinite(v)) {
      nonFinite++;
      continue;
    }
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const counts = new Array<number>(bins).fill(0);
  if (lo > hi) return { lo: 0, width: 1 / bins, counts, nonFinite };
  if (lo === hi) {
    lo -= 0.5;
    hi += 0.5;
  }
  const width = (hi - lo) / bins;
  for (const v of values) {
    if (Number.isFinite(v)) counts[Math.min(bins - 1, Math.floor((v - lo) / width))]++;
  }
  return { lo, width, counts, nonFinite };
}

/** Thousands separators independent of the machine's locale: 2,359,296 weights rather than 2359296. */
function grouped(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** Colour by selector in the order given, so that the same order of series gives the same colours in every chart. */
function selectorColour(series: { selector: string }[]) {
  return { field: 'selector', type: 'nominal' as const, title: 'Selector', scale: { domain: series.map((s) => s.selector) } };
}

/** Trailing mean over `window` points; the first points average over what exists so the line starts at step one. */
function movingAverage(points: { step: number; loss: number }[], window: number): { step: number; loss: number }[] {
  let sum = 0;
  return points.map((p, i) => {
    sum += p.loss;
    if (i >= window) sum -= points[i - window].loss;
    return { step: p.step, loss: sum / Math.min(i + 1, window) };
  });
}

/** Every k-th point plus the last, so that the line still ends where the run ended. */
function thin<T>(points: T[]): T[] {
  if (points.length <= MAX_LINE_POINTS) return points;
  const stride = Math.ceil(points.length / MAX_LINE_POINTS);
  const kept = points.filter((_, i) => i % stride === 0);
  if ((points.length - 1) % stride !== 0) kept.push(points[points.length - 1]);
  return kept;
}

export async function writeChart(path: string, spec: TopLevelSpec): Promise<void> {
  const vlSpec = { ...spec, background: 'white', config: CONFIG } as TopLevelSpec;
  const view = new View(parse(compile(vlSpec).spec), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    writeFileAtomic(path, svg);
    writeFileAtomic(path.replace(/\.svg$/, '') + '.png', svgToPng(svg));
  } finally {
    view.finalize();
  }
}

/** At twice the SVG's size (sharp on high-density screens); text in the system's DejaVu Sans (npm run setup). */
export function svgToPng(svg: string): Uint8Array {
  return new Resvg(svg, { fitTo: { mode: 'zoom', value: 2 }, font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans', sansSerifFamily: 'DejaVu Sans' } }).render().asPng();
}

