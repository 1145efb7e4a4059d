// Training metrics as JSON lines: one object per line, each written with its own write(2) so that a crash
// loses at most the line being written, and the file stays readable by anything (jq, pandas.read_json(lines=True)).
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, readSync, statSync, truncateSync, writeSync } from 'node:fs';

export type MetricsRecord = Record<string, unknown>;

export interface MetricsWriterOptions {
  /** Append to an existing file (for --resume) instead of starting it afresh. */
  resume?: boolean;
  /** fsync after every line: survives a power cut too, at the cost of a disk flush per line. */
  durable?: boolean;
}

// JSON has no NaN or Infinity, and JSON.stringify would turn them into null, hiding a diverged loss; they
// travel as these strings and the reader turns them back into numbers.
const NON_FINITE = new Set(['NaN', 'Infinity', '-Infinity']);

export class MetricsWriter {
  private fd: number | undefined;

  constructor(readonly path: string, private readonly options: MetricsWriterOptions = {}) {
    if (options.resume && existsSync(path)) dropPartialLastLine(path);
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

/** Reads a metrics file, tolerating a cut-off last line; a bad line anywhere else is corruption and throws. */
export function readMetrics(path: string): MetricsLog {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`${path}: cannot read metrics (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const lines = text.split('\n');
  const records: MetricsRecord[] = [];
  let truncatedTail = false;
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() === '') continue;
    const isLast = i === lines.length - 1; // only text after the final newline, i.e. an unfinished line
    let record: unknown;
    try {
      record = JSON.parse(lines[i], (_, value) => (typeof value === 'string' && NON_FINITE.has(value) ? Number(value) : value));
    } catch (e) {
      if (isLast) {
        truncatedTail = true;
        break;
      }
      throw new Error(`${path}:${i + 1}: not JSON (${(e as Error).message.replace(/\s+/g, ' ')})`);
    }
    if (typeof record !== 'object' || record === null || Array.isArray(record)) throw new Error(`${path}:${i + 1}: not a JSON object`);
    records.push(record as MetricsRecord);
  }
  return { records, truncatedTail };
}

/** Appending after a crash must not glue the next record onto the half-written one. */
function dropPartialLastLine(path: string) {
  const size = statSync(path).size;
  if (size === 0) return;
  const fd = openSync(path, 'r');
  try {
    const chunk = Buffer.alloc(64 * 1024);
    for (let end = size; end > 0; ) {
      const start = Math.max(0, end - chunk.length);
      readSync(fd, chunk, 0, end - start, start);
      const newline = chunk.subarray(0, end - start).lastIndexOf(0x0a);
      if (newline >= 0) {
        const keep = start + newline + 1;
        if (keep !== size) truncateSync(path, keep);
        return;
      }
      end = start;
    }
    truncateSync(path, 0);
  } finally {
    closeSync(fd);
  }
}
