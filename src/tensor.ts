// A GPU tensor: a shape, an element type and a pooled storage buffer. Row-major, contiguous.
import type { BufferBinding, Runtime } from './gpu/runtime.ts';
import { track } from './gpu/scope.ts';

export type DType = 'f32' | 'u32' | 'i32';
export type HostArray = Float32Array | Uint32Array | Int32Array;

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new Error(`bad shape [${shape.join(', ')}]: dimensions must be non-negative integers`);
    n *= d;
  }
  return n;
}

export class Tensor {
  readonly size: number;
  private gpuBuffer: GPUBuffer | null;

  private constructor(readonly rt: Runtime, readonly shape: readonly number[], readonly dtype: DType, buffer: GPUBuffer,
    /** Views share their source's buffer and never release it. */
    private readonly owner: Tensor | null = null,
    /** Where a view starts in the buffer, in bytes (a multiple of the adapter's storage offset alignment). */
    readonly byteOffset = 0) {
    this.size = numel(shape);
    this.gpuBuffer = buffer;
    track(this);
  }

  /** Uninitialised tensor from the pool. */
  static empty(rt: Runtime, shape: readonly number[], dtype: DType = 'f32'): Tensor {
    return new Tensor(rt, [...shape], dtype, rt.createStorage(Math.max(4, numel(shape) * 4), `${dtype}[${shape.join(',')}]`));
  }

  static upload(rt: Runtime, data: ArrayLike<number> | HostArray, shape: readonly number[] = [data.length], dtype: DType = 'f32'): Tensor {
    if (numel(shape) !== data.length) throw new Error(`shape [${shape.join(', ')}] holds ${numel(shape)} elements but ${data.length} were given`);
    const t = Tensor.empty(rt, shape, dtype);
    const host = data instanceof hostType(dtype) ? data as HostArray : new (hostType(dtype))(data as ArrayLike<number>);
    if (host.length > 0) rt.write(t.buffer, host);
    return t;
  }

  get buffer(): GPUBuffer {
    if (!this.gpuBuffer || this.owner?.disposed) throw new Error(`tensor [${this.shape.join(', ')}] used after dispose()`);
    return this.gpuBuffer;
  }

  /** The tensor that owns this one's buffer: itself, or the source of a view. */
  get base(): Tensor {
    return this.owner ?? this;
  }

  get disposed(): boolean {
    return this.gpuBuffer === null || (this.owner?.disposed ?? false);
  }

  /** The byte range a kernel binds (the pooled buffer may be larger than the tensor). */
  binding(): BufferBinding {
    return { buffer: this.buffer, offset: this.byteOffset, size: Math.max(4, this.size * 4) };
  }

  async download(): Promise<HostArray> {
    const bytes = await this.rt.read(this.buffer, this.size * 4, this.byteOffset);
    return new (hostType(this.dtype))(bytes);
  }

  /** Replaces the contents from host memory (queue-ordered with the work around it). */
  upload(data: HostArray): void {
    if (data.length !== this.size) throw new Error(`upload of ${data.length} values into a tensor of ${this.size}`);
    if (data.length > 0) this.rt.write(this.buffer, data, this.byteOffset);
  }

  /** A view with a new shape over the same buffer (no copy); disposing the view releases nothing. */
  reshape(shape: readonly number[]): Tensor {
    if (numel(shape) !== this.size) throw new Error(`cannot reshape [${this.shape.join(', ')}] to [${shape.join(', ')}]`);
    return new Tensor(this.rt, [...shape], this.dtype, this.buffer, this.owner ?? this, this.byteOffset);
  }

  /** A view of `shape` starting `elementOffset` elements into this tensor (offset aligned for binding). */
  slice(elementOffset: number, shape: readonly number[]): Tensor {
    const bytes = this.byteOffset + elementOffset * 4;
    const align = this.rt.ctx.limits.minStorageBufferOffsetAlignment ?? 256;
    if (bytes % align !== 0) throw new Error(`a view at element ${elementOffset} is not ${align}-byte aligned`);
    if (elementOffset + numel(shape) > this.size) throw new Error(`a view of [${shape.join(', ')}] at ${elementOffset} overruns a tensor of ${this.size}`);
    return new Tensor(this.rt, [...shape], this.dtype, this.buffer, this.owner ?? this, bytes);
  }

  /** The same buffer under a new shape, owned by the result: this tensor is disposed (no copy). */
  takeAs(shape: readonly number[]): Tensor {
    if (this.owner || this.byteOffset) throw new Error('takeAs() needs the owning tensor, not a view');
    if (numel(shape) !== this.size) throw new Error(`cannot reshape [${this.shape.join(', ')}] to [${shape.join(', ')}]`);
    const moved = new Tensor(this.rt, [...shape], this.dtype, this.buffer);
    this.gpuBuffer = null;
    return moved;
  }

  dispose(): void {
    if (!this.gpuBuffer) return;
    if (!this.owner) this.rt.pool.release(this.gpuBuffer);
    this.gpuBuffer = null;
  }
}

export function hostType(dtype: DType): Float32ArrayConstructor | Uint32ArrayConstructor | Int32ArrayConstructor {
  return dtype === 'f32' ? Float32Array : dtype === 'u32' ? Uint32Array : Int32Array;
}
