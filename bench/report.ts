// Where figures go: a table line each on a terminal, or one JSON record each (--json), and all of them into a
// JSON file (--out, rewritten atomically after every suite so that a crash keeps what was measured).
import { writeFileAtomic } from '../src/util/atomic.ts';
import { rateOf, type Stats } from './measure.ts';

export type Engine = 'saln' | 'tfjs-webgpu' | 'tfjs-wasm' | 'pytorch-cpu' | 'pytorch-cuda';

export interface BenchRecord {
  type: 'figure';
  suite: string;
  case: string;
  engine: Engine;
  unit: string;
  median: number;
  min: number;
  max: number;
  /** Peers only: how many times faster ours is on this case (our rate / the peer's rate). */
  ratio?: number;
  runs: number;
  seconds: { median: number; min: number; max: number };
  adapter: string;
  design: string;
  [extra: string]: unknown;
}

export interface FigureInput {
  suite: string;
  case: string;
  engine: Engine;
  seconds: Stats;
  /** For a rate: the work per call in `unit`s times `scale` (e.g. FLOPs with scale 1e9 for GFLOP/s). */
  work?: number;
  scale?: number;
  /** 'GFLOP/s', 'GB/s', 'images/s', or 'ms' / 's' for a time. */
  unit: string;
  extra?: Record<string, unknown>;
  /** Ours only: whether peers on this case are compared with this record (default true; false for the other designs). */
  baseline?: boolean;
}

export class Reporter {
  readonly records: BenchRecord[] = [];
  private readonly ours = new Map<string, BenchRecord>();
  adapter = '';
  design = '';

  constructor(readonly json: boolean, readonly outFile?: string) {}

  /** Text for people: dropped in --json mode so that stdout stays one JSON record per line. */
  line(text = ''): void {
    if (!this.json) process.stdout.write(`${text}\n`);
  }

  /** Notes that matter in either mode (e.g. a peer that could not run) go to stderr under --json. */
  note(text: string): void {
    (this.json ? process.stderr : process.stdout).write(`${text}\n`);
  }

  figure(input: FigureInput): BenchRecord {
    const { seconds, unit } = input;
    const value = unit === 'ms' ? { median: seconds.median * 1e3, min: seconds.min * 1e3, max: seconds.max * 1e3 }
      : unit === 's' ? { median: seconds.median, min: seconds.min, max: seconds.max }
        : rateOf(input.work ?? 1, seconds, input.scale ?? 1);
    const record: BenchRecord = {
      type: 'figure', suite: input.suite, case: input.case, engine: input.engine, unit, ...value,
      runs: seconds.samples.length, seconds: { median: seconds.median, min: seconds.min, max: seconds.max },
      adapter: this.adapter, design: this.design, ...input.extra,
    };
    const key = `${input.suite}\u0000${input.case}`;
    if (input.engine === 'saln') { if (input.baseline !== false) this.ours.set(key, record); }
    else {
      const ours = this.ours.get(key);
      if (ours) record.ratio = record.seconds.median / ours.seconds.median;
    }
    this.records.push(record);
    if (this.json) process.stdout.write(`${JSON.stringify(record)}\n`);
    else process.stdout.write(`${formatFigure(record)}\n`);
    return record;
  }

  /** Records that are not a timed figure (a profile): JSON only, the suite prints its own text. */
  extra(record: Record<string, unknown>): void {
    if (this.json) process.stdout.write(`${JSON.stringify(record)}\n`);
  }

  save(): void {
    if (this.outFile) writeFileAtomic(this.outFile, `${JSON.stringify(this.records, null, 1)}\n`);
  }
}

function fmt(v: number): string {
  const a = Math.abs(v);
  return a >= 1000 ? v.toFixed(0) : a >= 100 ? v.toFixed(1) : a >= 1 ? v.toFixed(2) : v.toPrecision(3);
}

function formatFigure(r: BenchRecord): string {
  const engine = r.engine === 'saln' && r.variant ? `saln ${r.variant}${r.default ? '*' : ''}` : r.engine;
  // Two significant digits below 0.1, where a peer is over ten times faster and toFixed(2) would print 0.00.
  const ratio = r.ratio !== undefined ? `   ours/peer ${r.ratio < 0.1 ? r.ratio.toPrecision(2) : r.ratio.toFixed(2)}x` : '';
  const perStep = r.suite === 'step' ? `   ${fmt(r.seconds.median)} s/step` : '';
  return `  ${r.case.padEnd(52)} ${engine.padEnd(16)} ${fmt(r.median).padStart(9)} ${r.unit.padEnd(8)} [${fmt(r.min)} .. ${fmt(r.max)}]${perStep}${ratio}`;
}
