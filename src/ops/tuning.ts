// Picks the matmul design per adapter by measuring, once; the choice is cached on disk by adapter and driver.
import type { Runtime } from '../gpu/runtime.ts';
import { Tensor } from '../tensor.ts';
import { uniformArray } from '../rng.ts';
import { availableMatmulVariants, matmul, MATMUL_VARIANTS, setMatmulVariant, type MatmulVariant } from './matmul.ts';
import { readTuning, tuningFile, writeTuning, type TuningRecord } from './tuning-cache.ts';

export { tuningFile };

export interface MatmulTuning extends TuningRecord {
  variant: MatmulVariant;
}

/** A square and a conv-shaped problem like those of ResNet-18 training, small enough to tune in seconds. */
const TUNING_SHAPES: [number, number, number][] = [[512, 512, 512], [2048, 64, 576]];

export function loadTuning(rt: Runtime): MatmulTuning | null {
  const entry = readTuning()[rt.ctx.adapterKey];
  return entry && (MATMUL_VARIANTS as readonly string[]).includes(entry.variant) ? entry as MatmulTuning : null;
}

/** Median seconds of `runs` timed launches after one warm-up. */
export async function timeIt(rt: Runtime, runs: number, body: () => void): Promise<number> {
  body();
  await rt.sync('warm-up');
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    body();
    await rt.sync('timing');
    times.push((performance.now() - t0) / 1000);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

/** Measures every design and keeps the fastest (geometric mean over the tuning shapes). */
export async function measureMatmulVariants(rt: Runtime, runs = 3): Promise<Partial<Record<MatmulVariant, number>>> {
  const gflops: Partial<Record<MatmulVariant, number>> = {};
  for (const variant of availableMatmulVariants(rt)) {
    let logSum = 0;
    for (const [M, N, K] of TUNING_SHAPES) {
      const a = Tensor.upload(rt, uniformArray(M * K, 1, 1, -1, 1), [M, K]);
      const b = Tensor.upload(rt, uniformArray(K * N, 1, 2, -1, 1), [K, N]);
      const seconds = await timeIt(rt, runs, () => matmul(a, b, { variant }).dispose());
      a.dispose(); b.dispose();
      logSum += Math.log((2 * M * N * K) / seconds / 1e9);
    }
    gflops[variant] = Math.exp(logSum / TUNING_SHAPES.length);
  }
  return gflops;
}

/** Uses the cached choice for this adapter, or measures and caches it. */
export async function tuneMatmul(rt: Runtime, options: { force?: boolean; log?: (line: string) => void } = {}): Promise<MatmulTuning> {
  const cached = options.force ? null : loadTuning(rt);
  if (cached) {
    setMatmulVariant(rt, cached.variant);
    return cached;
  }
  options.log?.(`tuning matmul for ${rt.ctx.info.description || rt.ctx.info.device} (once; cached in ${tuningFile()})`);
  const gflops = await measureMatmulVariants(rt);
  const variant = (Object.entries(gflops) as [MatmulVariant, number][]).sort((x, y) => y[1] - x[1])[0][0];
  const tuning: MatmulTuning = { variant, gflops: gflops as Record<string, number>, measuredAt: new Date().toISOString() };
  try {
    writeTuning(rt.ctx.adapterKey, tuning);
  } catch (e) {
    options.log?.(`could not cache the tuning in ${tuningFile()}: ${(e as Error).message}`);
  }
  setMatmulVariant(rt, variant);
  return tuning;
}
