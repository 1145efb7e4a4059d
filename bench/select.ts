// SALN selection time (features on the GPU -> kept indices on the CPU) for super-batches of B = 64 .. 512 at
// F = 512 (ResNet-18's feature width), and the GPU Lanczos solve against the dense CPU Jacobi solver on the same
// Laplacian.
import { parse, UsageError } from '../src/cli/args.ts';
import { getRuntime } from '../src/gpu/runtime.ts';
import { Tensor } from '../src/tensor.ts';
import { normalArray } from '../src/rng.ts';
import { tuneMatmul } from '../src/ops/tuning.ts';
import { SalnSelector, SALN_DEFAULTS } from '../src/select/saln.ts';
import { buildGraph, AFFINITIES, LAPLACIANS, type Affinity, type LaplacianKind } from '../src/select/graph.ts';
import { lanczos } from '../src/select/lanczos.ts';
import { jacobiEigen } from '../src/reference/jacobi.ts';

/**
 * Penultimate-layer-like features: ReLU of a class centre plus noise (10 classes), so similarities are
 * non-negative and clustered as a trained network's are; 'gaussian' is structureless N(0, 1) (cosines near 0,
 * a Laplacian with a crowded low end: Lanczos's hard case).
 */
function syntheticFeatures(B: number, F: number, kind: string, seed: number): Float32Array {
  const noise = normalArray(B * F, seed, 1);
  if (kind === 'gaussian') return Float32Array.from(noise);
  const centres = normalArray(10 * F, seed, 2);
  return Float32Array.from({ length: B * F }, (_, i) => Math.max(0, centres[(Math.floor(i / F) % 10) * F + (i % F)] + 0.8 * noise[i]));
}

/** Median seconds of `runs` timed calls, after one untimed warm-up call unless `warmUp` is false. */
async function median(runs: number, body: () => Promise<unknown>, warmUp = true): Promise<number> {
  if (warmUp) await body();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await body();
    times.push((performance.now() - t0) / 1000);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parse('bench select', argv, {
    json: { type: 'boolean' }, runs: { type: 'string', default: '5' }, 'jacobi-runs': { type: 'string', default: '3' },
    sizes: { type: 'string', default: '64,128,256,512' }, features: { type: 'string', default: '512' },
    data: { type: 'string', default: 'clustered' }, affinity: { type: 'string', default: SALN_DEFAULTS.affinity },
    laplacian: { type: 'string', default: SALN_DEFAULTS.laplacian }, keep: { type: 'string', default: '0.5' },
  });
  if (values.help) {
    process.stdout.write('usage: saln bench select [--json] [--runs 5] [--jacobi-runs 3] [--sizes 64,128,256,512] [--features 512]\n' +
      '                         [--data clustered|gaussian] [--affinity clip|shift|exp] [--laplacian unnormalized|normalized] [--keep 0.5]\n');
    return 0;
  }
  const runs = Number(values.runs), jacobiRuns = Number(values['jacobi-runs']), F = Number(values.features), ratio = Number(values.keep);
  const sizes = values.sizes!.split(',').map(Number);
  for (const [flag, v] of [['runs', runs], ['features', F], ...sizes.map((s) => ['sizes', s] as const)] as const) {
    if (!(Number.isInteger(v) && v > 0)) throw new UsageError(`bench select: --${flag} must be positive integers`);
  }
  if (!(Number.isInteger(jacobiRuns) && jacobiRuns >= 0)) throw new UsageError('bench select: --jacobi-runs must be a non-negative integer (0 skips Jacobi)');
  if (!(ratio > 0 && ratio <= 1)) throw new UsageError(`bench select: --keep must be in (0, 1], got '${values.keep}'`);
  if (values.data !== 'clustered' && values.data !== 'gaussian') throw new UsageError(`bench select: --data takes clustered or gaussian, got '${values.data}'`);
  const affinity = values.affinity as Affinity, laplacian = values.laplacian as LaplacianKind;
  if (!AFFINITIES.includes(affinity)) throw new UsageError(`bench select: --affinity takes ${AFFINITIES.join(', ')}`);
  if (!LAPLACIANS.includes(laplacian)) throw new UsageError(`bench select: --laplacian takes ${LAPLACIANS.join(', ')}`);

  const rt = await getRuntime({ adapter: values.adapter });
  const adapter = rt.ctx.info.description || rt.ctx.info.device;
  const tuning = await tuneMatmul(rt, { log: values.json ? undefined : (line) => process.stdout.write(`${line}\n`) });
  const selector = new SalnSelector({ affinity, laplacian });
  const { lanczosSteps, tolerance, temperature, rule } = selector.options;
  const out = (line: string) => { if (!values.json) process.stdout.write(`${line}\n`); };
  out(`adapter: ${adapter}; GEMM design ${tuning.variant}; ${values.data} features, F = ${F}; affinity ${affinity}, ${laplacian} Laplacian, rule ${rule}, keep ${ratio}`);
  out(`select: features [B, F] on the GPU -> kept indices (graph, Lanczos with tolerance ${tolerance} and at most ${lanczosSteps} steps, readbacks, rule);`);
  out(`lanczos: the Fiedler pair of the same Laplacian on the GPU; jacobi: every eigenpair of it on the CPU in float64. medians of ${runs} runs after a warm-up (Jacobi: of ${jacobiRuns}, no warm-up)`);
  out(`${'B'.padStart(5)}${'select ms'.padStart(11)}${'lanczos ms'.padStart(12)}${'steps'.padStart(7)}${'rel. residual'.padStart(15)}${'jacobi ms'.padStart(11)}${'sweeps'.padStart(8)}${'jacobi/lanczos'.padStart(16)}`);
  for (const B of sizes) {
    const features = Tensor.upload(rt, syntheticFeatures(B, F, values.data!, B), [B, F]);
    const labels = Tensor.upload(rt, new Uint32Array(B), [B], 'u32');
    const keep = Math.max(1, Math.round(ratio * B));
    let step = 0;
    const selectSeconds = await median(runs, () => selector.select({ rt, batchSize: B, keep, labels, features, seed: 1, step: step++ }));
    const graph = buildGraph(features, { affinity, laplacian, temperature });
    let result: Awaited<ReturnType<typeof lanczos>> | undefined;
    const lanczosSeconds = await median(runs, async () => {
      result?.vectors.dispose();
      result = await lanczos(rt, graph.laplacian, { deflate: graph.nullVector, maxSteps: lanczosSteps, tolerance, seed: 1 });
    });
    result!.vectors.dispose();
    const dense = Float64Array.from(await graph.laplacian.download());
    graph.dispose(); features.dispose(); labels.dispose();
    let sweeps = 0;
    const jacobiSeconds = jacobiRuns > 0 ? await median(jacobiRuns, async () => { sweeps = jacobiEigen(dense, B).sweeps; }, false) : NaN;
    const relResidual = result!.residuals[0] / result!.normEstimate;
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ bench: 'select', adapter, data: values.data, affinity, laplacian, rule, B, F, keep, selectSeconds, lanczosSeconds, lanczosSteps: result!.iterations, relativeResidual: relResidual, jacobiSeconds: jacobiRuns > 0 ? jacobiSeconds : null, jacobiSweeps: jacobiRuns > 0 ? sweeps : null })}\n`);
    }
    out(`${String(B).padStart(5)}${(selectSeconds * 1e3).toFixed(1).padStart(11)}${(lanczosSeconds * 1e3).toFixed(1).padStart(12)}${String(result!.iterations).padStart(7)}${relResidual.toExponential(1).padStart(15)}` +
      (jacobiRuns > 0 ? `${(jacobiSeconds * 1e3).toFixed(0).padStart(11)}${String(sweeps).padStart(8)}${(jacobiSeconds / lanczosSeconds).toFixed(1).padStart(16)}` : `${'-'.padStart(11)}${'-'.padStart(8)}${'-'.padStart(16)}`));
  }
  return 0;
}
