// Per-kernel GPU time from timestamp queries: while a profile is open every dispatch gets its own compute pass
// with a timestamp at its start and end, so each kernel's time is measured on the device, not guessed from the
// wall clock. Adapters without 'timestamp-query' get dispatch counts only.

export interface KernelTime {
  kernel: string;
  dispatches: number;
  /** Summed device time in seconds (NaN without timestamp queries). */
  seconds: number;
}

export class Profiler {
  private labels: string[] = [];
  private readonly querySet: GPUQuerySet | null;
  readonly counts = new Map<string, number>();

  constructor(private readonly device: GPUDevice, readonly capacity: number, timestamps: boolean) {
    this.querySet = timestamps ? device.createQuerySet({ type: 'timestamp', count: 2 * capacity, label: 'profile' }) : null;
  }

  /** The timestampWrites for the next dispatch's pass (null once full or without timestamps). */
  next(label: string): GPUComputePassTimestampWrites | undefined {
    this.counts.set(label, (this.counts.get(label) ?? 0) + 1);
    if (!this.querySet || this.labels.length >= this.capacity) return undefined;
    const i = this.labels.length;
    this.labels.push(label);
    return { querySet: this.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 };
  }

  /** Resolves the timestamps (the caller has flushed every recorded dispatch) and sums them per kernel. */
  async collect(encoder: () => GPUCommandEncoder, flush: () => void, read: (buffer: GPUBuffer, bytes: number) => Promise<ArrayBuffer>): Promise<KernelTime[]> {
    const seconds = new Map<string, number>();
    if (this.querySet && this.labels.length > 0) {
      const bytes = this.labels.length * 16;
      const resolved = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC, label: 'profile' });
      encoder().resolveQuerySet(this.querySet, 0, 2 * this.labels.length, resolved, 0);
      flush();
      const stamps = new BigUint64Array(await read(resolved, bytes));
      resolved.destroy();
      this.labels.forEach((label, i) => {
        const ns = Number(stamps[2 * i + 1] - stamps[2 * i]);
        seconds.set(label, (seconds.get(label) ?? 0) + Math.max(0, ns) / 1e9);
      });
    }
    this.querySet?.destroy();
    return [...this.counts].map(([kernel, dispatches]) => ({ kernel, dispatches, seconds: this.querySet ? seconds.get(kernel) ?? 0 : NaN }))
      .sort((a, b) => (b.seconds - a.seconds) || (b.dispatches - a.dispatches));
  }
}
