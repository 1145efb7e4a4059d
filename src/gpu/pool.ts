// Reuses GPU buffers by size class. A released buffer becomes reusable only after the work that used it has
// been submitted (the queue orders later writes after it); until then it waits in `pending`.
import { formatBytes, GpuMemoryError } from './errors.ts';
import { settings } from '../util/settings.ts';

export const STORAGE_USAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

export interface PoolStats {
  liveBytes: number;
  peakBytes: number;
  freeBytes: number;
  createdBuffers: number;
  reusedBuffers: number;
}

/** Size classes: powers of two up to 1 MiB, then steps of 1/8 of the next power of two (waste <= 12.5%). */
export function sizeClass(bytes: number): number {
  const size = Math.max(16, Math.ceil(bytes / 16) * 16);
  if (size <= 1 << 20) return 2 ** Math.ceil(Math.log2(size));
  const step = 2 ** (Math.floor(Math.log2(size)) - 3);
  return Math.ceil(size / step) * step;
}

export class BufferPool {
  enabled = settings.pool;
  /** Free bytes kept for reuse before the oldest free buffers are destroyed. */
  maxFreeBytes = 2 ** 30;
  private free = new Map<string, GPUBuffer[]>();
  private pending: GPUBuffer[] = [];
  private live = new Set<GPUBuffer>();
  private stats: PoolStats = { liveBytes: 0, peakBytes: 0, freeBytes: 0, createdBuffers: 0, reusedBuffers: 0 };

  /** @param maxBufferSize the adapter's limit: larger requests fail here, with a message, not in Dawn. */
  constructor(private device: GPUDevice, private maxBufferSize = Infinity) {}

  acquire(bytes: number, usage: number = STORAGE_USAGE, label = 'tensor'): GPUBuffer {
    const size = this.enabled ? sizeClass(bytes) : Math.max(16, Math.ceil(bytes / 16) * 16);
    const key = `${usage}:${size}`;
    if (size > this.maxBufferSize) {
      throw new GpuMemoryError(`GPU buffer ${label} needs ${formatBytes(size)}, above this adapter's maxBufferSize of ${formatBytes(this.maxBufferSize)}`, size, this.maxBufferSize, label);
    }
    let buffer = this.enabled ? this.free.get(key)?.pop() : undefined;
    if (buffer) {
      this.stats.freeBytes -= size;
      this.stats.reusedBuffers++;
    } else {
      buffer = this.device.createBuffer({ size, usage, label });
      this.stats.createdBuffers++;
    }
    this.live.add(buffer);
    this.stats.liveBytes += size;
    this.stats.peakBytes = Math.max(this.stats.peakBytes, this.stats.liveBytes);
    return buffer;
  }

  /** Hands a buffer back; it is reused only after the next submit. */
  release(buffer: GPUBuffer): void {
    if (!this.live.delete(buffer)) throw new Error(`buffer '${buffer.label}' released twice or not from this pool`);
    this.stats.liveBytes -= buffer.size;
    this.pending.push(buffer);
  }

  /** Called by the queue right after a submit: everything released before it is now safe to reuse. */
  afterSubmit(): void {
    for (const buffer of this.pending) {
      if (!this.enabled) { buffer.destroy(); continue; }
      const key = `${buffer.usage}:${buffer.size}`;
      let list = this.free.get(key);
      if (!list) this.free.set(key, (list = []));
      list.push(buffer);
      this.stats.freeBytes += buffer.size;
    }
    this.pending.length = 0;
    this.trim(this.maxFreeBytes);
  }

  /** Destroys free buffers until at most `keepBytes` are kept. */
  trim(keepBytes = 0): void {
    for (const [key, list] of this.free) {
      while (this.stats.freeBytes > keepBytes && list.length > 0) {
        const buffer = list.shift()!;
        this.stats.freeBytes -= buffer.size;
        buffer.destroy();
      }
      if (list.length === 0) this.free.delete(key);
      if (this.stats.freeBytes <= keepBytes) break;
    }
  }

  report(): PoolStats {
    return { ...this.stats };
  }

  resetPeak(): void {
    this.stats.peakBytes = this.stats.liveBytes;
  }
}

/** rgba32f textures for kernels that read operands through the texel path; reused by exact size. */
export class TexturePool {
  private free = new Map<string, GPUTexture[]>();
  private pending: GPUTexture[] = [];
  liveTextures = 0;

  constructor(private device: GPUDevice) {}

  acquire(width: number, height: number): GPUTexture {
    const key = `${width}x${height}`;
    const texture = this.free.get(key)?.pop() ?? this.device.createTexture({
      size: [width, height], format: 'rgba32float', label: `operand ${key}`,
      usage: GPUTextureUsage.STORAGE_BINDING | GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.COPY_DST,
    });
    this.liveTextures++;
    return texture;
  }

  release(texture: GPUTexture): void {
    this.liveTextures--;
    this.pending.push(texture);
  }

  afterSubmit(): void {
    for (const texture of this.pending) {
      const key = `${texture.width}x${texture.height}`;
      let list = this.free.get(key);
      if (!list) this.free.set(key, (list = []));
      list.push(texture);
      // Enough per size for the operands of one step: a texture made anew costs far more than its memory on
      // lavapipe (its first view waits for the command buffer in flight; see wholeView in runtime.ts).
      if (list.length > 16) list.shift()!.destroy();
    }
    this.pending.length = 0;
  }
}
