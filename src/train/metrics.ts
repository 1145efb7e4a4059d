// Training metrics as JSON lines: one object per line, each written with its own write(2) so that a crash
// loses at most the line being written, and the file stays readable by anything (jq, pandas.read_json(lines=True)).
import { closeSync, fsyncSync, openSync, readFileSync, truncateSync, writeSync } from 'node:fs';

export type MetricsRecord = Record<string, unknown>;

export interface MetricsWriterOptions {
  /** Append to an existing file (for --resume) instead of starting it afresh; see prepareMetricsForResume. */
  resume?: boolean;
  /**
   * The step of the checkpoint resumed from: records of later steps (written before a crash, and about to be
   * written again) are dropped, so the file reads as one uninterrupted run.
   */
  resumeAt?: number;
  /** fsync after every line: survives a power cut too, at the cost of a disk flush per line. */
  durable?: boolean;
}

// JSON has no NaN or Infinity, and JSON.stringify would turn them into null, hiding a diverged loss; they
// travel as these strings and the reader turns them back into numbers.
const NON_FINITE = new Set(['NaN', 'Infinity', '-Infinity']);

export class MetricsError extends Error {
  override name = 'MetricsError';
}

export class MetricsWriter {
  private fd: number | undefined;
  /** With `resume`: what was kept of the existing file and what was dropped. */
  readonly resumed: ResumedMetrics | undefined;

  constructor(readonly path: string, private readonly options: MetricsWriterOptions = {}) {
    if (options.resume) this.resumed = prepareMetricsForResume(path, options.resumeAt);
    this.fd = openSync(path, options.resume ? 'a' : 'w');
  }

  write(record: MetricsRecord): void {
    if (this.fd === undefined) throw new Error(`${this.path}: metrics file already closed`);
    const line = `${JSON.stringify(record, (_, value) => (typeof value === 'number' && !Number.isFinite(value) ? String(value) : value))}\n`;
    const bytes = Buffer.from(line);
    for (let written = 0; written < bytes.length; ) written += writeSync(this.fd, bytes, written);
    if (this.options.durable) fsyncSync(this.fd);
  }

  close(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }
}

export interface MetricsLog {
  records: MetricsRecord[];
  /** The last line was cut short (a crash mid-write) and was left out. */
  truncatedTail: boolean;
}

interface Line {
  record: MetricsRecord;
  /** 1-based, for messages. */
  number: number;
  /** Byte offset after the line's newline (or the end of the file). */
  next: number;
  /** Ends with a newline: a line without one was being written when the writer stopped. */
  terminated: boolean;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Visits the records in file order until `visit` returns false. A line that is not UTF-8, not JSON or not an
 * object is corruption (an error naming the line) unless it is the unterminated last line, which a crash
 * mid-write leaves behind: that one ends the scan and is reported by the return value.
 */
function scanLines(bytes: Uint8Array, path: string, visit: (line: Line) => boolean): { tailStart: number | null } {
  for (let start = 0, number = 1; start < bytes.length; number++) {
    const newline = bytes.indexOf(0x0a, start);
    const terminated = newline >= 0;
    const next = terminated ? newline + 1 : bytes.length;
    const bad = (problem: string): { tailStart: number } => {
      if (!terminated) return { tailStart: start };
      throw new MetricsError(`${path}:${number}: ${problem}; the metrics file is damaged`);
    };
    let text: string;
    try {
      text = utf8.decode(bytes.subarray(start, terminated ? newline : bytes.length));
    } catch {
      return bad('not UTF-8 text');
    }
    if (text.trim() !== '') {
      let record: unknown;
      try {
        record = JSON.parse(text, (_, value) => (typeof value === 'string' && NON_FINITE.has(value) ? Number(value) : value));
      } catch (e) {
        return bad(`not JSON (${printable((e as Error).message)})`);
      }
      if (typeof record !== 'object' || record === null || Array.isArray(record)) return bad('not a JSON object');
      if (!visit({ record: record as MetricsRecord, number, next, terminated })) return { tailStart: null };
    }
    start = next;
  }
  return { tailStart: null };
}

function readBytes(path: string): Uint8Array | null {
  try {
    return readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    throw new MetricsError(`${path}: cannot read metrics (${code ?? printable((e as Error).message)})`);
  }
}

/** Reads a metrics file, tolerating a cut-off last line; a bad line anywhere else is corruption and throws. */
export function readMetrics(path: string): MetricsLog {
  const bytes = readBytes(path);
  if (bytes === null) throw new MetricsError(`${path}: cannot read metrics (ENOENT)`);
  const records: MetricsRecord[] = [];
  const { tailStart } = scanLines(bytes, path, ({ record }) => { records.push(record); return true; });
  return { records, truncatedTail: tailStart !== null };
}

export interface ResumedMetrics {
  /** Records left in the file. */
  kept: number;
  /** Lines of records of steps after the checkpoint's, which the resumed run writes again. */
  dropped: number;
  /** A half-written last line was removed. */
  droppedPartialLine: boolean;
}

/**
 * Makes `path` ready for appending by a run resumed from the checkpoint of `afterStep`: a half-written last
 * line is removed (the next record would be glued onto it), and so are the records of steps after
 * `afterStep` (written after the last checkpoint by the run that stopped; the resumed run writes them again,
 * so keeping them would leave two records per step). Damage before the cut is an error rather than something
 * to append to. A missing file is fine: the run starts it.
 */
export function prepareMetricsForResume(path: string, afterStep = Infinity): ResumedMetrics {
  const bytes = readBytes(path);
  if (bytes === null || bytes.length === 0) return { kept: 0, dropped: 0, droppedPartialLine: false };
  let kept = 0, keepBytes = 0, cut = false;
  scanLines(bytes, path, ({ record, number, next, terminated }) => {
    const { step } = record;
    if (step !== undefined && !(typeof step === 'number' && Number.isFinite(step))) {
      if (!terminated) return false;
      // Not JSON.stringify on an array or object: a deeply nested one overflows the stack.
      const shown = typeof step === 'object' && step !== null ? (Array.isArray(step) ? 'an array' : 'an object') : printable(JSON.stringify(step));
      throw new MetricsError(`${path}:${number}: step ${shown} is not a number; the metrics file is damaged`);
    }
    if (typeof step === 'number' && step > afterStep) {
      cut = true;
      return false;
    }
    // Complete JSON without its newline is still the line a stopped writer left: appending would join it.
    if (!terminated) return false;
    kept++;
    keepBytes = next;
    return true;
  });
  const rest = bytes.subarray(keepBytes);
  // What follows the cut is not parsed: damage there goes with it.
  const dropped = cut ? new TextDecoder().decode(rest).split('\n').filter((line) => line.trim() !== '').length : 0;
  const droppedPartialLine = !cut && !onlyBlank(rest);
  if (keepBytes !== bytes.length) truncateSync(path, keepBytes);
  return { kept, dropped, droppedPartialLine };
}

const onlyBlank = (bytes: Uint8Array) => bytes.every((b) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09);

/** An error text from JSON.parse quotes the input: keep it to one short printable line. */
function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  const line = text.replace(/\s+/g, ' ').replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, '?').trim();
  return line.length > 120 ? `${line.slice(0, 117)}...` : line;
}
