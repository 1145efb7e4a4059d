// Picks the matmul design per adapter by measuring, once; the choice is cached on disk by adapter and driver.
import type { Runtime } from '../gpu/runtime.ts';
import { Tensor } from '../tensor.ts';
import { uniformArray } from '../rng.ts';
import { availableMatmulVariants, matmul, MATMUL_VARIANTS, setConvKSteps, setMatmulVariant, type KSteps, type MatmulVariant } from './matmul.ts';
import { conv2dBackwardInput, conv2dBackwardWeight } from './conv.ts';
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

const median = (values: readonly number[]): number => [...values].sort((a, b) => a - b)[values.length >> 1];

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
  return median(times);
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

/**
 * Seconds of a ResNet layer's input and weight gradients (batch 16, 16x16x128, 3x3) on the subgroup design with
 * 1 and 2 k steps per loop iteration: the medians of `rounds` alternating runs, summed.
 */
export async function measureConvKSteps(rt: Runtime, rounds = 5): Promise<Record<KSteps, number>> {
  const [N, H, C] = [16, 16, 128];
  const x = Tensor.upload(rt, uniformArray(N * H * H * C, 1, 3, -1, 1), [N, H, H, C]);
  const dy = Tensor.upload(rt, uniformArray(N * H * H * C, 1, 4, -1, 1), [N, H, H, C]);
  const w = Tensor.upload(rt, uniformArray(C * 9 * C, 1, 5, -0.1, 0.1), [C, 3, 3, C]);
  const times: Record<KSteps, number[][]> = { 1: [[], []], 2: [[], []] };
  try {
    for (let round = 0; round <= rounds; round++) {
      for (const kSteps of (round % 2 ? [2, 1] : [1, 2]) as KSteps[]) {
        const options = { stride: 1, padding: 1, variant: 'subgroup' as const, kSteps };
        const parts = [() => conv2dBackwardInput(dy, w, x.shape, options), () => conv2dBackwardWeight(dy, x, w.shape, options)];
        for (const [i, part] of parts.entries()) {
          const t0 = performance.now();
          part().dispose();
          await rt.sync('tuning');
          if (round > 0) times[kSteps][i].push((performance.now() - t0) / 1000);   // round 0 compiles the kernels
        }
      }
    }
  } finally {
    x.dispose(); dy.dispose(); w.dispose();
  }
  return { 1: median(times[1][0]) + median(times[1][1]), 2: median(times[2][0]) + median(times[2][1]) };
}

/** Two k steps only where they win by more than this (run-to-run noise on lavapipe is a few percent). */
const KSTEPS_MARGIN = 0.03;

async function tuneKSteps(rt: Runtime, tuning: MatmulTuning, log?: (line: string) => void): Promise<void> {
  const seconds = await measureConvKSteps(rt);
  tuning.kSteps = seconds[2] < seconds[1] * (1 - KSTEPS_MARGIN) ? 2 : 1;
  tuning.kStepsSeconds = { 1: seconds[1], 2: seconds[2] };
  log?.(`subgroup convs: ${tuning.kSteps} k step${tuning.kSteps === 2 ? 's' : ''} per iteration (input + weight gradient ${(seconds[1] * 1000).toFixed(1)} ms with 1, ${(seconds[2] * 1000).toFixed(1)} ms with 2)`);
}

function cache(rt: Runtime, tuning: MatmulTuning, log?: (line: string) => void): void {
  try {
    writeTuning(rt.ctx.adapterKey, tuning);
  } catch (e) {
    log?.(`could not cache the tuning in ${tuningFile()}: ${(e as Error).message}`);
  }
}

/**
 * Uses the cached choice for this adapter, or measures and caches it: the matmul design, then (on the subgroup
 * design) the convs' k steps per iteration, also measured alone for a cache written before that choice existed.
 */
export async function tuneMatmul(rt: Runtime, options: { force?: boolean; log?: (line: string) => void } = {}): Promise<MatmulTuning> {
  const cached = options.force ? null : loadTuning(rt);
  const tuning: MatmulTuning = cached ?? await (async () => {
    options.log?.(`tuning matmul for ${rt.ctx.info.description || rt.ctx.info.device} (once; cached in ${tuningFile()})`);
    const gflops = await measureMatmulVariants(rt);
    const variant = (Object.entries(gflops) as [MatmulVariant, number][]).sort((x, y) => y[1] - x[1])[0][0];
    return { variant, gflops: gflops as Record<string, number>, measuredAt: new Date().toISOString() };
  })();
  setMatmulVariant(rt, tuning.variant);
  const needsKSteps = tuning.variant === 'subgroup' && tuning.kSteps === undefined;
  if (needsKSteps) await tuneKSteps(rt, tuning, options.log);
  if (!cached || needsKSteps) cache(rt, tuning, options.log);
  setConvKSteps(rt, tuning.kSteps ?? 1);
  return tuning;
}
