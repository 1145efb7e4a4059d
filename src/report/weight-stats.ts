// How selection changes the trained weights (the paper's weight analysis): each layer's weights from several
// runs binned on one shared range, so that the curves of the selectors are comparable bin for bin, and the
// moments that summarise a distribution's shape: mean, standard deviation and excess kurtosis (0 for a normal
// distribution; heavy tails make it positive).
import { readSafetensors } from '../train/safetensors.ts';
import { writeChart } from './charts.ts';

export interface LayerMoments { layer: string; run: string; count: number; mean: number; std: number; kurtosis: number }

const SHARED_BINS = 40;

/** Weight tensors worth comparing: convolutions and the classifier (rank >= 2); biases and BN affine are tiny. */
export function readWeightLayers(modelFile: string): Map<string, Float32Array> {
  const layers = new Map<string, Float32Array>();
  for (const [name, tensor] of readSafetensors(modelFile).tensors) if (tensor.shape.length >= 2) layers.set(name, tensor.data);
  return layers;
}

/** Mean, population standard deviation and excess kurtosis, in float64 over the finite values. */
export function moments(values: Float32Array): { count: number; mean: number; std: number; kurtosis: number } {
  let n = 0, sum = 0;
  for (const v of values) if (Number.isFinite(v)) { n++; sum += v; }
  const mean = n ? sum / n : NaN;
  let m2 = 0, m4 = 0;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    const d2 = (v - mean) ** 2;
    m2 += d2;
    m4 += d2 * d2;
  }
  m2 /= n;
  m4 /= n;
  return { count: n, mean, std: Math.sqrt(m2), kurtosis: m2 > 0 ? m4 / (m2 * m2) - 3 : NaN };
}

/** `runs`: run label -> (layer -> weights). Moments of every layer common to all runs, in the first run's order. */
export function compareWeights(runs: Map<string, Map<string, Float32Array>>): { layers: string[]; moments: LayerMoments[] } {
  const first = [...runs.values()][0];
  const layers = first ? [...first.keys()].filter((layer) => [...runs.values()].every((r) => r.has(layer))) : [];
  const table: LayerMoments[] = [];
  for (const layer of layers) for (const [run, weights] of runs) table.push({ layer, run, ...moments(weights.get(layer)!) });
  return { layers, moments: table };
}

/** One panel per layer, a line per run, on bins shared by the runs (the range of all of them together). */
export async function sharedBinsChart(path: string, runs: Map<string, Map<string, Float32Array>>, layers: string[]): Promise<void> {
  const values: { layer: string; run: string; centre: number; density: number }[] = [];
  for (const layer of layers) {
    let lo = Infinity, hi = -Infinity;
    for (const weights of runs.values()) for (const v of weights.get(layer)!) if (Number.isFinite(v)) { if (v < lo) lo = v; if (v > hi) hi = v; }
    if (!(lo < hi)) { lo -= 0.5; hi += 0.5; }
    const width = (hi - lo) / SHARED_BINS;
    for (const [run, weights] of runs) {
      const data = weights.get(layer)!;
      const counts = new Array<number>(SHARED_BINS).fill(0);
      let n = 0;
      for (const v of data) if (Number.isFinite(v)) { counts[Math.min(SHARED_BINS - 1, Math.floor((v - lo) / width))]++; n++; }
      // Density (not counts): the runs have the same layer sizes, but the axis then reads the same for every layer.
      counts.forEach((count, bin) => values.push({ layer, run, centre: Number((lo + (bin + 0.5) * width).toPrecision(5)), density: Number((count / Math.max(1, n) / width).toPrecision(5)) }));
    }
  }
  await writeChart(path, {
    title: `Weights per layer on shared bins (${SHARED_BINS} per layer), one line per run`,
    data: { values },
    facet: { field: 'layer', type: 'nominal', title: null, sort: layers },
    columns: 4,
    spec: {
      width: 180, height: 100, mark: { type: 'line', interpolate: 'step' },
      encoding: {
        x: { field: 'centre', type: 'quantitative', title: 'Weight', scale: { zero: false, nice: false } },
        y: { field: 'density', type: 'quantitative', title: 'Density' },
        color: { field: 'run', type: 'nominal', title: 'Run', scale: { domain: [...runs.keys()] } },
      },
    },
    resolve: { scale: { x: 'independent', y: 'independent' } },
  } as Parameters<typeof writeChart>[1]);
}
