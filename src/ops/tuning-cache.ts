// The on-disk record of tuned choices per adapter and driver (read by the ops, written by the tuner).
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../util/atomic.ts';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { settings } from '../util/settings.ts';

export interface TuningRecord {
  variant: string;
  /** GFLOP/s of each design on the tuning shapes (geometric mean). */
  gflops: Record<string, number>;
  measuredAt: string;
  /** The subgroup convs' k steps per loop iteration, where the subgroup design was chosen and this was measured. */
  kSteps?: 1 | 2;
  /** Seconds of the k-steps benchmark (a conv layer's input and weight gradients) at 1 and 2 steps. */
  kStepsSeconds?: Record<string, number>;
}

export function tuningFile(): string {
  const base = settings.cache ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'saln');
  return join(base, 'tuning.json');
}

export function readTuning(): Record<string, TuningRecord> {
  try {
    return JSON.parse(readFileSync(tuningFile(), 'utf8'));
  } catch {
    return {};
  }
}

/** Writes atomically (temp file, then rename) so that a crash never leaves half a file. */
export function writeTuning(adapterKey: string, record: TuningRecord): void {
  const all = readTuning();
  all[adapterKey] = record;
  writeFileAtomic(tuningFile(), `${JSON.stringify(all, null, 2)}\n`);
}
