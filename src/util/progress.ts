// A progress line for training, evaluation and downloads. On a terminal it redraws in place at most ~10 times a second;
// in a log (CI, a pipe, a file) it prints a plain line every so often and at milestones, so logs stay short.
// The stream and the clock are injected so tests can drive both. Hand-written rather than cli-progress: this
// is ~100 lines, and cli-progress reads the wall clock itself, which would make the ETA math untestable.

export interface ProgressStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export type ProgressFields = Record<string, string | number>;

export interface ProgressOptions {
  total: number;
  label?: string;
  /** What `done` counts, shown in the rate: "412 img/s". */
  unit?: string;
  /** Defaults to stderr, so that a command's stdout (e.g. --json) stays clean. */
  stream?: ProgressStream;
  /** Milliseconds; defaults to performance.now. */
  now?: () => number;
  /** Defaults to stream.isTTY. */
  tty?: boolean;
  /** Least time between redraws on a terminal. */
  redrawMs?: number;
  /** Longest time between plain lines when not on a terminal. */
  plainEveryMs?: number;
  /** Fractions of total at which a plain line is printed regardless of time. */
  milestones?: number[];
  /**
   * The rate is measured over this recent window, not since the start: the first steps of a run are slow
   * (shader compilation, tuning) and would otherwise inflate the ETA for the whole epoch.
   */
  rateWindowMs?: number;
}

export class ProgressBar {
  private readonly options: Required<Omit<ProgressOptions, 'stream' | 'now' | 'tty'>>;
  private readonly stream: ProgressStream;
  private readonly now: () => number;
  private readonly tty: boolean;
  private readonly startedAt: number;
  private readonly samples: { at: number; done: number }[];
  private done = 0;
  private fields: ProgressFields = {};
  private lastOutputAt: number;
  private nextMilestone = 0;
  private drawn = false;
  private finished = false;

  constructor(options: ProgressOptions) {
    this.options = {
      total: options.total,
      label: options.label ?? '',
      unit: options.unit ?? 'it',
      redrawMs: options.redrawMs ?? 100,
      plainEveryMs: options.plainEveryMs ?? 30_000,
      milestones: options.milestones ?? [0.25, 0.5, 0.75],
      rateWindowMs: options.rateWindowMs ?? 10_000,
    };
    this.stream = options.stream ?? process.stderr;
    this.now = options.now ?? (() => performance.now());
    this.tty = options.tty ?? Boolean(this.stream.isTTY);
    this.startedAt = this.lastOutputAt = this.now();
    this.samples = [{ at: this.startedAt, done: 0 }];
  }

  /** Sets the absolute count done (and any fields to show, e.g. loss and lr). */
  update(done: number, fields?: ProgressFields): void {
    if (this.finished) return;
    const at = this.now();
    this.done = done;
    if (fields) this.fields = { ...this.fields, ...fields };
    this.samples.push({ at, done });
    // Keep one sample at or before the window's start, so the window always spans rateWindowMs once it can.
    while (this.samples.length > 2 && this.samples[1].at <= at - this.options.rateWindowMs) this.samples.shift();
    if (this.tty) {
      if (at - this.lastOutputAt >= this.options.redrawMs || !this.drawn) this.draw(at);
      return;
    }
    const { total, milestones } = this.options;
    let crossed = false;
    while (this.nextMilestone < milestones.length && done >= milestones[this.nextMilestone] * total) {
      this.nextMilestone++;
      crossed = true;
    }
    if (crossed || at - this.lastOutputAt >= this.options.plainEveryMs) this.print(at, this.line(at, false));
  }

  increment(by = 1, fields?: ProgressFields): void {
    this.update(this.done + by, fields);
  }

  /** A message between progress lines; on a terminal the bar is cleared and redrawn below it. */
  log(message: string): void {
    if (!this.tty || !this.drawn || this.finished) return void this.stream.write(`${message}\n`);
    this.stream.write(`\r\x1b[K${message}\n`);
    this.draw(this.now());
  }

  /** The final line (with the total time), ending the terminal line. */
  finish(fields?: ProgressFields): void {
    if (this.finished) return;
    if (fields) this.fields = { ...this.fields, ...fields };
    const at = this.now();
    const line = this.line(at, true);
    this.stream.write(this.tty ? `\r${this.fit(line)}\x1b[K\n` : `${line}\n`);
    this.finished = true;
  }

  /** Items per second over the recent window; 0 until there is elapsed time to divide by. */
  rate(at = this.now()): number {
    const oldest = this.samples[0];
    const seconds = (at - oldest.at) / 1000;
    return seconds > 0 ? (this.done - oldest.done) / seconds : 0;
  }

  private draw(at: number) {
    this.stream.write(`\r${this.fit(this.line(at, false))}\x1b[K`);
    this.drawn = true;
    this.lastOutputAt = at;
  }

  private print(at: number, line: string) {
    this.stream.write(`${line}\n`);
    this.lastOutputAt = at;
  }

  private line(at: number, final: boolean): string {
    const { total, label, unit } = this.options;
    const fraction = total > 0 ? Math.min(this.done / total, 1) : 1;
    const parts = label ? [label] : [];
    if (this.tty) parts.push(`[${bar(fraction, 24)}]`);
    parts.push(`${this.done}/${total}`, `${Math.floor(fraction * 100)}%`);
    const elapsed = (at - this.startedAt) / 1000;
    if (final) {
      parts.push(`${formatRate(elapsed > 0 ? this.done / elapsed : 0)} ${unit}/s`, `in ${formatDuration(elapsed)}`);
    } else {
      const rate = this.rate(at);
      parts.push(`${formatRate(rate)} ${unit}/s`, `ETA ${rate > 0 ? formatDuration(Math.max(total - this.done, 0) / rate) : '--:--'}`);
      if (!this.tty) parts.push(`elapsed ${formatDuration(elapsed)}`);
    }
    for (const [key, value] of Object.entries(this.fields)) parts.push(`${key} ${typeof value === 'number' ? formatNumber(value) : value}`);
    return parts.join(' ');
  }

  /** A line wider than the terminal wraps, and then `\r` no longer returns to its start. */
  private fit(line: string): string {
    const columns = this.stream.columns;
    return columns && line.length >= columns ? line.slice(0, Math.max(columns - 1, 0)) : line;
  }
}

function bar(fraction: number, width: number): string {
  const filled = Math.round(fraction * width);
  return '#'.repeat(filled) + '.'.repeat(width - filled);
}

/** h:mm:ss or m:ss. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--:--';
  const whole = Math.round(seconds);
  const h = Math.floor(whole / 3600), m = Math.floor((whole % 3600) / 60), s = whole % 60;
  const mmss = `${String(m).padStart(h ? 2 : 1, '0')}:${String(s).padStart(2, '0')}`;
  return h ? `${h}:${mmss}` : mmss;
}

export function formatRate(perSecond: number): string {
  return perSecond >= 100 ? perSecond.toFixed(0) : perSecond.toFixed(1);
}

/** 4 significant digits, exponent form outside [1e-3, 1e5), trailing zeros dropped: 0.4321, 0.01, 1e-4. */
export function formatNumber(value: number): string {
  if (value === 0 || !Number.isFinite(value)) return String(value);
  const magnitude = Math.abs(value);
  if (magnitude >= 1e-3 && magnitude < 1e5) return String(Number(value.toPrecision(4)));
  return value.toExponential(3).replace(/\.?0+e/, 'e').replace('e+', 'e');
}
