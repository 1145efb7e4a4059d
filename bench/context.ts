// What every suite gets: the device, where figures go, the parsed flags, and the peers (loaded on first use).
import type { Runtime } from '../src/gpu/runtime.ts';
import type { MatmulVariant } from '../src/ops/matmul.ts';
import type { BenchValues } from './options.ts';
import type { Reporter } from './report.ts';
import type { Peers } from './peers/peers.ts';

export interface SuiteContext {
  rt: Runtime;
  report: Reporter;
  values: BenchValues;
  /** Timed runs per figure (after one warm-up). */
  runs: number;
  /** The GEMM design our matmuls and convs use on this adapter. */
  design: MatmulVariant;
  /** The peers, or null without --peers; the first call loads them and prints what they are. */
  peers(): Promise<Peers | null>;
}

export interface Suite {
  run(ctx: SuiteContext): Promise<void>;
}
