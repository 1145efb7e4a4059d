// The launch path: one function records any kernel into a shared command encoder; dispatches are submitted in
// batches, and a readback or sync flushes. Bind-group layouts, uniform packing and argument checks all come
// from the reflected WGSL.
import { getGpu, type GpuContext, type GpuOptions } from './context.ts';
import { BufferPool, STORAGE_USAGE, TexturePool } from './pool.ts';
import { formatCompileMessages, loadShader, type BindingInfo, type EntryInfo, type ShaderSource } from './shaders.ts';
import { formatBytes, GpuMemoryError, KernelArgumentError, ShaderCompileError } from './errors.ts';
import { Profiler, type KernelTime, type ProfileMethod } from './profiler.ts';
import { keep, scope } from './scope.ts';
import { settings } from '../util/settings.ts';

/** Something a storage binding accepts: a buffer, or a buffer range, or anything carrying one (a Tensor). */
export interface BufferBinding {
  buffer: GPUBuffer;
  offset?: number;
  /** Bytes of the binding; the whole buffer from `offset` when absent. */
  size?: number;
}
export type Bindable = GPUBuffer | BufferBinding | GPUTexture | GPUTextureView | { binding(): BufferBinding };

export type UniformValue = number | boolean | readonly number[];

export interface KernelLaunch {
  /** File in shaders/ (without .wgsl) or a registered shader name. */
  shader: string;
  entry?: string;
  /** Pipeline-overridable constants. */
  overrides?: Record<string, number | boolean>;
  /** Storage and texture bindings by their WGSL name; the uniform struct is filled from `uniforms`. */
  bindings: Record<string, Bindable>;
  uniforms?: Record<string, UniformValue>;
  /** Elements each storage binding must hold at least (in its WGSL element type), checked before dispatch. */
  needs?: Record<string, number>;
  /**
   * Invocations wanted per dimension: the launcher divides by the entry's reflected workgroup size (one
   * invocation per element for flat kernels, per output block for tiled ones). A grid above the per-dimension
   * limit is folded into 2-D. Give this or `workgroups`.
   */
  invocations?: Grid;
  /**
   * Workgroup counts, for kernels that map workgroups to work themselves (a workgroup size set by an override is
   * read from `overrides`, so invocations work for those too).
   */
  workgroups?: Grid;
  /**
   * A flat pass over this many elements by kernels that walk `flatSpan` (shaders/lib/flat_span.wgsl): the
   * launcher picks the grid, one invocation per element on GPUs, a few workgroups on CPU adapters (each 8-lane
   * group then walks a contiguous run, 3-5x faster on lavapipe than a workgroup per 256 elements).
   */
  elements?: number;
}

export type Grid = number | readonly [number, number?, number?];

/** Test hooks a runtime consults: faults injected into launches, a lower binding limit to exercise slabs. */
export interface RuntimeHooks {
  /** Sees every launch before it is recorded and may return a changed one. */
  launch?: (spec: KernelLaunch) => KernelLaunch;
  /** Bytes: a storage-binding limit below the adapter's, for planners that split work by it. */
  maxStorageBinding?: number;
}

interface Pipeline {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
  entry: EntryInfo;
  label: string;
  /** Set once the compile check failed: later launches throw it at once instead of poisoning the queue. */
  failure?: Error;
}

const MAX_DISPATCHES_PER_SUBMIT = 256;
const UNIFORM_CHUNK_BYTES = 64 * 1024;

export class Runtime {
  readonly device: GPUDevice;
  readonly pool: BufferPool;
  readonly textures: TexturePool;
  /** Per loaded source (a re-registered test shader is a new object), by entry point and override values. Keyed
   * by the object, not its text: hashing a 100 KB unrolled source on every launch cost 10 ms a training step. */
  private pipelines = new WeakMap<ShaderSource, Map<string, Pipeline>>();
  private compileChecks: Promise<void>[] = [];
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  /** A zero-filled buffer (WebGPU zeroes new buffers) that copies zero textures from; never written. */
  private zeros: GPUBuffer | null = null;
  private retired: GPUBuffer[] = [];
  private dispatches = 0;
  private uniformChunk: GPUBuffer | null = null;
  private uniformStaging = new ArrayBuffer(UNIFORM_CHUNK_BYTES);
  private uniformUsed = 0;
  private readonly uniformAlign: number;
  private readonly maxPerDim: number;
  private profiler: Profiler | null = null;
  /** Counts for reports and tests. */
  readonly counters = { dispatches: 0, submits: 0, pipelinesCompiled: 0 };
  /** Installed by tests only. */
  readonly hooks: RuntimeHooks = {};

  constructor(readonly ctx: GpuContext) {
    this.device = ctx.device;
    this.pool = new BufferPool(ctx.device, ctx.limits.maxBufferSize ?? Infinity);
    this.textures = new TexturePool(ctx.device);
    this.uniformAlign = Math.max(16, ctx.limits.minUniformBufferOffsetAlignment ?? 256);
    this.maxPerDim = ctx.limits.maxComputeWorkgroupsPerDimension ?? 65535;
  }

  // ---- pipelines -------------------------------------------------------------------------------------------

  private pipelineFor(source: ShaderSource, entryName: string, overrides: Record<string, number | boolean>): Pipeline {
    const overrideKey = Object.keys(overrides).sort().map((k) => `${k}=${Number(overrides[k])}`).join(',');
    const key = `${entryName}\u0000${overrideKey}`;
    let ofSource = this.pipelines.get(source);
    if (!ofSource) this.pipelines.set(source, ofSource = new Map());
    const cached = ofSource.get(key);
    if (cached?.failure) throw cached.failure;
    if (cached) return cached;
    const entry = source.entries.get(entryName);
    const label = `${source.file}:${entryName}`;
    if (!entry) {
      throw new KernelArgumentError(`kernel ${label}: no compute entry point '${entryName}'; the file has ${[...source.entries.keys()].join(', ') || 'none'}`);
    }
    for (const name of Object.keys(overrides)) {
      if (!source.overrides.has(name)) {
        throw new KernelArgumentError(`kernel ${label}: no override constant '${name}'; it declares ${[...source.overrides].join(', ') || 'none'}`);
      }
    }
    const device = this.device;
    const layout = device.createBindGroupLayout({
      label,
      entries: entry.bindings.map((b) => layoutEntry(b)),
    });
    device.pushErrorScope('validation');
    const module = device.createShaderModule({ code: source.text, label });
    const pipeline = device.createComputePipeline({
      label,
      layout: device.createPipelineLayout({ bindGroupLayouts: [layout], label }),
      compute: { module, entryPoint: entryName, constants: Object.fromEntries(Object.entries(overrides).map(([k, v]) => [k, Number(v)])) },
    });
    const scope = device.popErrorScope();
    const result: Pipeline = { pipeline, layout, entry, label };
    this.compileChecks.push((async () => {
      const [info, error] = await Promise.all([module.getCompilationInfo(), scope]);
      const formatted = formatCompileMessages(source, info.messages);
      if (formatted) result.failure = new ShaderCompileError(`kernel ${label} does not compile:\n${formatted}`);
      else if (error) result.failure = new ShaderCompileError(`kernel ${label}: pipeline creation failed: ${error.message.split('\n')[0]}`);
      if (result.failure) throw result.failure;
    })());
    this.counters.pipelinesCompiled++;
    ofSource.set(key, result);
    return result;
  }

  /** Compiles a kernel now and throws its compile errors (launch reports them at the next sync instead). */
  async compile(shader: string, entry = 'main', overrides: Record<string, number | boolean> = {}): Promise<void> {
    this.pipelineFor(loadShader(shader), entry, overrides);
    await this.settleCompiles();
  }

  private async settleCompiles(): Promise<void> {
    if (this.compileChecks.length === 0) return;
    const checks = this.compileChecks.splice(0);
    const results = await Promise.allSettled(checks);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      // Launches of the broken pipeline raised follow-up errors; the compile error is the one that explains them.
      try { this.ctx.checkErrors('compile'); } catch { /* superseded */ }
      throw failed.reason;
    }
  }

  // ---- launching -------------------------------------------------------------------------------------------

  launch(spec: KernelLaunch): void {
    if (this.hooks.launch) spec = this.hooks.launch(spec);
    const source = loadShader(spec.shader);
    const entryName = spec.entry ?? 'main';
    const { pipeline, layout, entry, label } = this.pipelineFor(source, entryName, spec.overrides ?? {});
    const given = new Set(Object.keys(spec.bindings));
    const entries: GPUBindGroupEntry[] = [];
    for (const binding of entry.bindings) {
      if (binding.kind === 'uniform') {
        entries.push({ binding: binding.binding, resource: this.packUniforms(label, binding, spec.uniforms ?? {}) });
        continue;
      }
      const value = spec.bindings[binding.name];
      if (value === undefined) {
        const names = entry.bindings.filter((b) => b.kind !== 'uniform').map((b) => b.name).join(', ');
        throw new KernelArgumentError(`kernel ${label}: binding '${binding.name}' is missing (it binds ${names})`);
      }
      given.delete(binding.name);
      entries.push({ binding: binding.binding, resource: this.resource(label, binding, value, spec.needs?.[binding.name]) });
    }
    if (given.size > 0) {
      const names = entry.bindings.filter((b) => b.kind !== 'uniform').map((b) => b.name).join(', ');
      throw new KernelArgumentError(`kernel ${label}: no binding named '${[...given].join("', '")}' (it binds ${names})`);
    }
    checkAliasing(label, entry, entries);
    const bindGroup = this.device.createBindGroup({ layout, entries, label });
    const [x, y, z] = this.foldGrid(label, workgroupsOf(label, spec, entry, this.ctx.software));
    const timestampWrites = this.profiler?.next(label);
    // A profiled dispatch gets a pass of its own, bracketed by timestamps.
    const pass = timestampWrites ? this.commandEncoder().beginComputePass({ timestampWrites }) : this.computePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    if (timestampWrites) pass.end();
    this.ctx.lastKernel = label;
    this.counters.dispatches++;
    if (this.profiler?.method === 'fenced wall time') {
      this.flush();
      this.profiler.fence(label);
    } else if (++this.dispatches >= MAX_DISPATCHES_PER_SUBMIT) this.flush();
  }

  /** The storage-binding limit planners split work by: the adapter's, or a test's lower one. */
  get maxStorageBinding(): number {
    return Math.min(this.ctx.limits.maxStorageBufferBindingSize ?? 134217728, this.hooks.maxStorageBinding ?? Infinity);
  }

  private foldGrid(label: string, workgroups: Grid): [number, number, number] {
    let [x, y = 1, z = 1] = typeof workgroups === 'number' ? [workgroups] : workgroups;
    if (![x, y, z].every((n) => Number.isInteger(n) && n >= 0)) throw new KernelArgumentError(`kernel ${label}: bad workgroup count ${[x, y, z]}`);
    if (x > this.maxPerDim && y === 1) {
      y = Math.ceil(x / this.maxPerDim);
      x = Math.ceil(x / y);
    }
    if (x > this.maxPerDim || y > this.maxPerDim || z > this.maxPerDim) {
      throw new KernelArgumentError(`kernel ${label}: grid ${[x, y, z].join('x')} exceeds ${this.maxPerDim} workgroups per dimension`);
    }
    return [x, y, z];
  }

  private resource(label: string, binding: BindingInfo, value: Bindable, needElements?: number): GPUBindingResource {
    if (binding.kind === 'texture' || binding.kind === 'storage-texture' || binding.kind === 'read-only-storage-texture') {
      if (value instanceof GPUTexture) return wholeView(value);
      if (!(value instanceof GPUTextureView)) throw new KernelArgumentError(`kernel ${label}: binding '${binding.name}' is a texture; pass a GPUTexture or GPUTextureView`);
      return value;
    }
    const range: BufferBinding = value instanceof GPUBuffer ? { buffer: value }
      : 'binding' in value && typeof value.binding === 'function' ? value.binding() : value as BufferBinding;
    if (!(range.buffer instanceof GPUBuffer)) throw new KernelArgumentError(`kernel ${label}: binding '${binding.name}' needs a buffer`);
    const offset = range.offset ?? 0;
    const size = range.size ?? range.buffer.size - offset;
    if (needElements !== undefined) {
      const needBytes = needElements * binding.elementSize;
      if (size < needBytes) {
        throw new KernelArgumentError(`kernel ${label}: buffer for '${binding.name}' holds ${size} bytes but the launch needs ${needBytes} (${needElements} elements of ${binding.elementSize} bytes)`);
      }
    }
    if (size <= 0) throw new KernelArgumentError(`kernel ${label}: buffer for '${binding.name}' is empty`);
    const maxBinding = this.ctx.limits.maxStorageBufferBindingSize ?? 134217728;
    if (size > maxBinding) {
      throw new GpuMemoryError(`kernel ${label}: binding '${binding.name}' (${range.buffer.label}) spans ${formatBytes(size)}, above this adapter's maxStorageBufferBindingSize of ${formatBytes(maxBinding)}`, size, maxBinding, range.buffer.label);
    }
    const align = this.ctx.limits.minStorageBufferOffsetAlignment ?? 256;
    if (offset % align !== 0) throw new KernelArgumentError(`kernel ${label}: binding '${binding.name}' starts at byte ${offset}, not a multiple of ${align}`);
    return { buffer: range.buffer, offset, size: Math.ceil(size / 4) * 4 };
  }

  private packUniforms(label: string, binding: BindingInfo, values: Record<string, UniformValue>): GPUBufferBinding {
    const fields = binding.uniformFields ?? [];
    const bytes = Math.ceil(binding.size / 16) * 16;
    const slot = Math.ceil(bytes / this.uniformAlign) * this.uniformAlign;
    if (!this.uniformChunk || this.uniformUsed + slot > UNIFORM_CHUNK_BYTES) {
      if (this.uniformChunk) this.flush();
      this.uniformChunk = this.pool.acquire(UNIFORM_CHUNK_BYTES, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, 'uniforms');
      this.uniformUsed = 0;
    }
    const offset = this.uniformUsed;
    const view = new DataView(this.uniformStaging, offset, bytes);
    const known = new Set(fields.map((f) => f.name));
    for (const name of Object.keys(values)) {
      if (!known.has(name)) throw new KernelArgumentError(`kernel ${label}: uniform struct has no field '${name}' (fields: ${[...known].join(', ')})`);
    }
    for (const field of fields) {
      const value = values[field.name];
      if (value === undefined) throw new KernelArgumentError(`kernel ${label}: uniform field '${field.name}' is missing`);
      const list = typeof value === 'object' ? value : [Number(value)];
      if (list.length !== field.count) throw new KernelArgumentError(`kernel ${label}: uniform field '${field.name}' takes ${field.count} values, got ${list.length}`);
      list.forEach((v, i) => {
        const at = field.offset + 4 * i;
        if (field.scalar === 'f32') view.setFloat32(at, v, true);
        else if (field.scalar === 'i32') view.setInt32(at, v, true);
        else {
          if (!(v >= 0 && v <= 0xffffffff)) throw new KernelArgumentError(`kernel ${label}: uniform field '${field.name}' = ${v} does not fit u32`);
          view.setUint32(at, v >>> 0, true);
        }
      });
    }
    this.uniformUsed += slot;
    return { buffer: this.uniformChunk, offset, size: bytes };
  }

  // ---- lifetimes ---------------------------------------------------------------------------------------------

  /**
   * Runs `body` (sync or async) and disposes every tensor it created, except what it returns (itself, or in
   * arrays and plain objects) and what it passed to `keep`.
   */
  scope<T>(body: () => T): T {
    return scope(body);
  }

  /** Lets a tensor created in a scope outlive it. */
  keep<T extends { dispose(): void }>(resource: T): T {
    return keep(resource);
  }

  // ---- profiling ---------------------------------------------------------------------------------------------

  /** Starts timing every dispatch on the device (up to `capacity` dispatches: WebGPU allows 4096 queries; counts beyond). */
  startProfile(capacity = 2048): void {
    if (this.profiler) throw new Error('a profile is already running');
    this.flush();
    this.profiler = new Profiler(this.device, capacity, this.profileMethod);
  }

  /** How a profile times kernels here: SALN_PROFILE=fenced forces the fallback (to test it, or to compare). */
  get profileMethod(): ProfileMethod {
    return this.ctx.features.includes('timestamp-query') && !settings.fencedProfile ? 'timestamp queries' : 'fenced wall time';
  }

  /** Ends the profile: per-kernel dispatch counts and device seconds, most expensive first. */
  async stopProfile(): Promise<KernelTime[]> {
    const profiler = this.profiler;
    if (!profiler) throw new Error('no profile is running');
    this.profiler = null;
    return profiler.collect(() => this.commandEncoder(), () => this.flush(), (buffer, bytes) => this.read(buffer, bytes));
  }

  // ---- encoding, submission, readback ----------------------------------------------------------------------

  private computePass(): GPUComputePassEncoder {
    if (!this.pass) this.pass = this.commandEncoder().beginComputePass();
    return this.pass;
  }

  /** The shared encoder, outside any compute pass, for copies. */
  commandEncoder(): GPUCommandEncoder {
    if (this.pass) { this.pass.end(); this.pass = null; }
    if (!this.encoder) this.encoder = this.device.createCommandEncoder({ label: 'saln' });
    return this.encoder;
  }

  /**
   * Rows of a buffer into a region of an rgba32f texture: a copy command, not a kernel. On lavapipe a copy is a
   * row memcpy, 7-12x faster than a kernel's texel stores (measured: a 32x32x64 batch-32 padded input 0.5 ms
   * against 6.8-7.7 ms).
   */
  copyToTexture(source: { buffer: GPUBuffer; offset: number; bytesPerRow: number }, texture: GPUTexture, origin: [number, number], size: [number, number]): void {
    this.commandEncoder().copyBufferToTexture(source, { texture, origin }, size);
  }

  /**
   * Whether rows of a buffer can go into an rgba32f texture by copyToTexture: WebGPU wants each row a multiple of
   * 256 bytes and the first one at whole texels (16 bytes).
   */
  static rowsCopyable(offset: number, bytesPerRow: number): boolean {
    return bytesPerRow % 256 === 0 && offset % 16 === 0;
  }

  /** Zeroes a region of an rgba32f texture by a copy from a buffer that is never written. */
  zeroTexture(texture: GPUTexture, origin: [number, number], [width, height]: [number, number]): void {
    const bytesPerRow = Math.ceil((width * 16) / 256) * 256;
    const bytes = bytesPerRow * height;
    if (!this.zeros || this.zeros.size < bytes) {
      // The old one may be read by recorded copies: destroyed after the next submit.
      if (this.zeros) this.retired.push(this.zeros);
      this.zeros = this.device.createBuffer({ size: Math.max(bytes, 2 ** 20), usage: GPUBufferUsage.COPY_SRC, label: 'zeros' });
    }
    this.copyToTexture({ buffer: this.zeros, offset: 0, bytesPerRow }, texture, origin, [width, height]);
  }

  /** Submits everything recorded so far. */
  flush(): void {
    if (this.pass) { this.pass.end(); this.pass = null; }
    if (this.uniformChunk) {
      this.device.queue.writeBuffer(this.uniformChunk, 0, this.uniformStaging, 0, this.uniformUsed);
      this.pool.release(this.uniformChunk);
      this.uniformChunk = null;
      this.uniformUsed = 0;
    }
    if (this.encoder) {
      this.device.queue.submit([this.encoder.finish()]);
      this.encoder = null;
      this.counters.submits++;
    }
    for (const buffer of this.retired.splice(0)) buffer.destroy();
    this.dispatches = 0;
    this.pool.afterSubmit();
    this.textures.afterSubmit();
  }

  /** Waits until the GPU has finished everything submitted, then reports any error it raised. */
  async sync(context = 'sync'): Promise<void> {
    this.flush();
    await this.settleCompiles();
    await this.device.queue.onSubmittedWorkDone();
    this.ctx.checkErrors(context);
  }

  /** Copies `bytes` from a buffer back to the CPU (flushes pending work). */
  async read(buffer: GPUBuffer, bytes: number, offset = 0): Promise<ArrayBuffer> {
    const size = Math.ceil(bytes / 4) * 4;
    const staging = this.pool.acquire(size, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, 'readback');
    this.commandEncoder().copyBufferToBuffer(buffer, offset, staging, 0, size);
    this.flush();
    await this.settleCompiles();
    try {
      await staging.mapAsync(GPUMapMode.READ, 0, size);
    } catch (e) {
      this.ctx.checkErrors(`readback after kernel ${this.ctx.lastKernel}`);
      throw e;
    }
    const copy = staging.getMappedRange(0, size).slice(0, bytes);
    staging.unmap();
    this.pool.release(staging);
    this.ctx.checkErrors(`readback after kernel ${this.ctx.lastKernel}`);
    return copy;
  }

  /** Uploads data into a buffer (queue-ordered with the work around it). */
  write(buffer: GPUBuffer, data: ArrayBufferView, offset = 0): void {
    // Queue writes run before the next submit's commands, so flush what was recorded first to keep order.
    if (this.encoder) this.flush();
    const byteLength = Math.ceil(data.byteLength / 4) * 4;
    if (byteLength === data.byteLength) {
      this.device.queue.writeBuffer(buffer, offset, data.buffer, data.byteOffset, data.byteLength);
    } else {
      const padded = new Uint8Array(byteLength);
      padded.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      this.device.queue.writeBuffer(buffer, offset, padded);
    }
  }

  createStorage(bytes: number, label = 'tensor'): GPUBuffer {
    return this.pool.acquire(bytes, STORAGE_USAGE, label);
  }
}

// On lavapipe, creating a view takes the queue's lock, so it waits for the command buffer in flight: made per
// launch, views cost 1.5 s of a 3 s CIFAR step with the GPU idle meanwhile. A texture keeps its one
// whole-texture view for life (pooled textures live across steps).
const views = new WeakMap<GPUTexture, GPUTextureView>();

function wholeView(texture: GPUTexture): GPUTextureView {
  let view = views.get(texture);
  if (!view) views.set(texture, (view = texture.createView()));
  return view;
}

/** Workgroups of a flat pass on a CPU adapter: enough to keep its threads busy, few enough for long runs. */
const CPU_FLAT_WORKGROUPS = 64;

function workgroupsOf(label: string, spec: KernelLaunch, entry: EntryInfo, software: boolean): Grid {
  const given = [spec.invocations, spec.workgroups, spec.elements].filter((v) => v !== undefined).length;
  if (given !== 1) throw new KernelArgumentError(`kernel ${label}: give one of invocations, workgroups or elements`);
  if (spec.elements !== undefined) {
    const groups = Math.ceil(spec.elements / entry.workgroupSize[0]);
    return software ? Math.min(groups, CPU_FLAT_WORKGROUPS) : groups;
  }
  if (spec.workgroups !== undefined) return spec.workgroups;
  const [x, y = 1, z = 1] = typeof spec.invocations === 'number' ? [spec.invocations] : spec.invocations!;
  const [defaultX, wy, wz] = entry.workgroupSize;
  // An override-sized workgroup (the subgroup tiles) is as wide as this launch's value of the override.
  const wx = entry.workgroupOverride && spec.overrides?.[entry.workgroupOverride] !== undefined ? Number(spec.overrides[entry.workgroupOverride]) : defaultX;
  return [Math.ceil(x / wx), Math.ceil(y / wy), Math.ceil(z / wz)];
}

function layoutEntry(b: BindingInfo): GPUBindGroupLayoutEntry {
  const visibility = GPUShaderStage.COMPUTE;
  switch (b.kind) {
    case 'uniform': return { binding: b.binding, visibility, buffer: { type: 'uniform' } };
    case 'read-only-storage': return { binding: b.binding, visibility, buffer: { type: 'read-only-storage' } };
    case 'storage': return { binding: b.binding, visibility, buffer: { type: 'storage' } };
    case 'texture': return { binding: b.binding, visibility, texture: { sampleType: 'unfilterable-float' } };
    case 'storage-texture': return { binding: b.binding, visibility, storageTexture: { access: 'write-only', format: 'rgba32float' } };
    case 'read-only-storage-texture': return { binding: b.binding, visibility, storageTexture: { access: 'read-only', format: 'rgba32float' } };
  }
}

/**
 * WebGPU rejects a buffer bound writable and read-only (or uniform) in one dispatch, whatever the ranges; two
 * writable views of a flat buffer are fine if they do not overlap (overlapping ones are refused here as a race).
 * Say which bindings collide.
 */
function checkAliasing(label: string, entry: EntryInfo, entries: GPUBindGroupEntry[]): void {
  const writable = new Set(entry.bindings.filter((b) => b.kind === 'storage').map((b) => b.binding));
  const ranges: { buffer: GPUBuffer; start: number; end: number; binding: number }[] = [];
  const name = (n: number) => entry.bindings.find((b) => b.binding === n)?.name;
  for (const e of entries) {
    const resource = e.resource as GPUBufferBinding;
    if (!(resource?.buffer instanceof GPUBuffer)) continue;
    const start = resource.offset ?? 0;
    const end = start + (resource.size ?? resource.buffer.size - start);
    for (const other of ranges) {
      if (other.buffer !== resource.buffer) continue;
      const writes = [writable.has(other.binding), writable.has(e.binding)];
      if (writes[0] !== writes[1]) {
        throw new KernelArgumentError(`kernel ${label}: one buffer is bound to '${name(other.binding)}' and '${name(e.binding)}', one of them writable (WebGPU forbids that even for separate ranges); use separate buffers`);
      }
      if (writes[0] && start < other.end && other.start < end) {
        throw new KernelArgumentError(`kernel ${label}: the same buffer range is bound to '${name(other.binding)}' and '${name(e.binding)}', both writable; use separate buffers`);
      }
    }
    ranges.push({ buffer: resource.buffer, start, end, binding: e.binding });
  }
}

let runtime: Promise<Runtime> | null = null;

/** The process-wide runtime on the chosen adapter. */
export function getRuntime(options: GpuOptions = {}): Promise<Runtime> {
  if (!runtime) runtime = getGpu(options).then((ctx) => new Runtime(ctx));
  return runtime;
}

/** Tears the device down now (it is also released at exit). */
export async function closeRuntime(): Promise<void> {
  if (!runtime) return;
  const rt = await runtime;
  runtime = null;
  rt.flush();
  rt.ctx.destroy();
}
