// Picks the matmul design per adapter by measuring, once; the choice is cached on disk by adapter and driver.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Runtime } from '../gpu/runtime.ts';
import { Tensor } from '../tensor.ts';
import { uniformArray } from '../rng.ts';
import { matmul, MATMUL_VARIANTS, setMatmulVariant, type MatmulVariant } from './matmul.ts';

export interface MatmulTuning {
  variant: MatmulVariant;
  /** GFLOP/s of each design on the tuning shapes (geometric mean). */
  gflops: Record<string, number>;
  measuredAt: string;
}

/** The conv-shaped and square problems that dominate ResNet-18 training. */
const TUNING_SHAPES: [number, number, number][] = [[1024, 1024, 1024], [4096, 64, 576]];

export function tuningFile(): string {
  const base = process.env.SALN_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'saln');
  return join(base, 'tuning.json');
}

function readAll(): Record<string, MatmulTuning> {
  try {
    return JSON.parse(readFileSync(tuningFile(), 'utf8'));
  } catch {
    return {};
  }
}

export function loadTuning(rt: Runtime): MatmulTuning | null {
  const entry = readAll()[rt.ctx.adapterKey];
  return entry && MATMUL_VARIANTS.includes(entry.variant) ? entry : null;
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
export async function measureMatmulVariants(rt: Runtime, runs = 3): Promise<Record<MatmulVariant, number>> {
  const gflops = {} as Record<MatmulVariant, number>;
  for (const variant of MATMUL_VARIANTS) {
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
  const tuning: MatmulTuning = { variant, gflops, measuredAt: new Date().toISOString() };
  const all = readAll();
  all[rt.ctx.adapterKey] = tuning;
  const file = tuningFile();
  try {
    mkdirSync(dirname(file), { recursive: true });
    const temp = `${file}.${process.pid}.tmp`;
    writeFileSync(temp, `${JSON.stringify(all, null, 2)}\n`);
    renameSync(temp, file);
  } catch (e) {
    options.log?.(`could not cache the tuning in ${file}: ${(e as Error).message}`);
  }
  setMatmulVariant(rt, variant);
  return tuning;
}
