// Timing: one warm-up call (pipelines compile, pools fill, JITs settle), then `runs` timed calls, each ended by
// a sync that waits for the device, so a figure is the work done and never the work merely queued.

export interface Stats {
  median: number;
  min: number;
  max: number;
  samples: number[];
}

export function statsOf(samples: number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { median, min: sorted[0], max: sorted[sorted.length - 1], samples };
}

/**
 * Seconds per call of `body` (median, min, max over `runs` calls after one warm-up call). `warmUpUnder`: a first
 * call slower than this many seconds counts as a sample instead (a long CPU loop, where what a warm-up removes,
 * the JIT, is lost in the noise, and a thrown-away call would cost as much as a sample).
 */
export async function measure(runs: number, body: () => unknown, sync: () => Promise<unknown> = async () => {}, warmUpUnder = Infinity): Promise<Stats> {
  const samples: number[] = [];
  const t0 = performance.now();
  await body();
  await sync();
  const first = (performance.now() - t0) / 1000;
  if (first >= warmUpUnder) samples.push(first);
  while (samples.length < runs) {
    const t0 = performance.now();
    await body();
    await sync();
    samples.push((performance.now() - t0) / 1000);
  }
  return statsOf(samples);
}

/** The same statistics for a rate: `work / seconds` (the slowest run gives the minimum rate). */
export function rateOf(work: number, seconds: Stats, scale = 1): { median: number; min: number; max: number } {
  return { median: work / seconds.median / scale, min: work / seconds.max / scale, max: work / seconds.min / scale };
}
