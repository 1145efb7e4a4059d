// Per-kernel GPU time. With timestamp queries every dispatch of an open profile gets its own compute pass with
// a timestamp at its start and end, so each kernel's time is measured on the device. Adapters without
// 'timestamp-query' (or SALN_PROFILE=fenced) get fenced wall time instead: each dispatch is submitted alone and
// its time is from when the queue could start it (its submit, or the previous one's completion) to the
// completion the queue reports; coarser (the event loop's tick) and slowed by the submits, but per kernel.

export interface KernelTime {
  kernel: string;
  dispatches: number;
  /** Summed time in seconds. */
  seconds: number;
}

export type ProfileMethod = 'timestamp queries' | 'fenced wall time';

interface Fence {
  label: string;
  submitted: number;
  done: Promise<number>;
}

export class Profiler {
  private labels: string[] = [];
  private readonly querySet: GPUQuerySet | null;
  private fences: Fence[] = [];
  readonly counts = new Map<string, number>();

  constructor(private readonly device: GPUDevice, readonly capacity: number, readonly method: ProfileMethod) {
    this.querySet = method === 'timestamp queries' ? device.createQuerySet({ type: 'timestamp', count: 2 * capacity, label: 'profile' }) : null;
  }

  /** The timestampWrites for the next dispatch's pass (undefined once full, or when fenced). */
  next(label: string): GPUComputePassTimestampWrites | undefined {
    this.counts.set(label, (this.counts.get(label) ?? 0) + 1);
    if (!this.querySet || this.labels.length >= this.capacity) return undefined;
    const i = this.labels.length;
    this.labels.push(label);
    return { querySet: this.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 };
  }

  /** Fenced mode: called right after the dispatch `label` was submitted on its own. */
  fence(label: string): void {
    this.fences.push({ label, submitted: performance.now(), done: this.device.queue.onSubmittedWorkDone().then(() => performance.now()) });
  }

  /** Resolves the timestamps or fences (the caller has flushed every recorded dispatch) and sums them per kernel. */
  async collect(encoder: () => GPUCommandEncoder, flush: () => void, read: (buffer: GPUBuffer, bytes: number) => Promise<ArrayBuffer>): Promise<KernelTime[]> {
    const seconds = new Map<string, number>();
    const add = (label: string, s: number) => seconds.set(label, (seconds.get(label) ?? 0) + Math.max(0, s));
    if (this.querySet && this.labels.length > 0) {
      const bytes = this.labels.length * 16;
      const resolved = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC, label: 'profile' });
      encoder().resolveQuerySet(this.querySet, 0, 2 * this.labels.length, resolved, 0);
      flush();
      const stamps = new BigUint64Array(await read(resolved, bytes));
      resolved.destroy();
      this.labels.forEach((label, i) => add(label, Number(stamps[2 * i + 1] - stamps[2 * i]) / 1e9));
    }
    let previousDone = 0;
    for (const { label, submitted, done } of this.fences) {
      const end = await done;
      add(label, (end - Math.max(submitted, previousDone)) / 1000);
      previousDone = end;
    }
    this.querySet?.destroy();
    return [...this.counts].map(([kernel, dispatches]) => ({ kernel, dispatches, seconds: seconds.get(kernel) ?? 0 }))
      .sort((a, b) => (b.seconds - a.seconds) || (b.dispatches - a.dispatches));
  }
}
