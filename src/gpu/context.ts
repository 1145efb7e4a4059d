// The one GPU device of the process: adapter choice, real limits, error counting, loss reporting, teardown.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { create, globals } from 'webgpu';
import { installPollThrottle } from './throttle.ts';
import { DeviceLostError, GpuError, GpuMemoryError, NoAdapterError } from './errors.ts';
import { settings } from '../util/settings.ts';

Object.assign(globalThis, globals);

export interface AdapterDescription {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  backend: string;
}

export interface GpuContext {
  device: GPUDevice;
  adapter: GPUAdapter;
  info: AdapterDescription;
  /** Stable key for caches tied to this adapter and driver (tuning results). */
  adapterKey: string;
  limits: Record<string, number>;
  features: string[];
  /** Subgroup sizes the adapter may use ([0, 0] without the 'subgroups' feature). */
  subgroupSizes: [number, number];
  /** A CPU implementation (lavapipe/llvmpipe, SwiftShader): kernels that differ per device kind pick by this. */
  software: boolean;
  /** Throws the first uncaptured error or the loss reason, if any happened since the last check. */
  checkErrors(context: string): void;
  /** Label of the last kernel recorded; uncaptured errors are attributed to it when Dawn gives no label. */
  lastKernel: string;
  destroy(): void;
  /** Test hook: destroys the device the way a driver reset loses it (reported as a loss, not a shutdown). */
  simulateLoss(): void;
  destroyed: boolean;
}

// Dawn aborts the process on the next dispatch if the object `create()` returned is garbage-collected while
// the device is alive, so it lives in a module variable for the life of the process.
let dawnRoot: GPU | null = null;
let current: Promise<GpuContext> | null = null;

const REQUESTED_LIMITS = [
  'maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupSizeX', 'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ', 'maxComputeWorkgroupsPerDimension', 'maxStorageBuffersPerShaderStage',
  'maxUniformBufferBindingSize', 'maxBindingsPerBindGroup', 'maxTextureDimension2D',
  'maxStorageTexturesPerShaderStage', 'maxSampledTexturesPerShaderStage', 'minUniformBufferOffsetAlignment',
  'minStorageBufferOffsetAlignment',
] as const;

function describe(adapter: GPUAdapter, backend: string): AdapterDescription {
  const info = adapter.info;
  return {
    vendor: info.vendor ?? '', architecture: info.architecture ?? '', device: info.device ?? '',
    description: info.description ?? '', backend,
  };
}

/** Names of the adapters Dawn can see, from the list it prints when asked for one that does not exist. */
/**
 * The adapters Dawn can see, as "name (backend)": Dawn lists them in the error for an adapter name that matches
 * none. The probe runs in a child process: a second Dawn instance alive in this one crashed it at exit (the
 * device's teardown and the probe's, in either order).
 */
export async function listAdapters(): Promise<string[]> {
  const webgpu = createRequire(import.meta.url).resolve('webgpu');
  const probe = `const { create } = await import(${JSON.stringify(pathToFileURL(webgpu).href)});
    try { await create(['adapter=\u0001no-such-adapter']).requestAdapter(); } catch (e) { process.stdout.write(String(e?.message ?? e)); }
    process.exit(0);`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', probe], { encoding: 'utf8', timeout: 60_000, env: process.env });
  return [...(child.stdout ?? '').matchAll(/\* backend: '([^']*)', name: '([^']*)'/g)].map((m) => `${m[2]} (${m[1]})`);
}

export interface GpuOptions {
  /** Substring of the adapter name (`--adapter` / SALN_ADAPTER); default: the first adapter. */
  adapter?: string;
}

export function getGpu(options: GpuOptions = {}): Promise<GpuContext> {
  if (!current) current = openGpu(options);
  return current;
}

async function openGpu(options: GpuOptions): Promise<GpuContext> {
  installPollThrottle();
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
  const wanted = options.adapter ?? settings.adapter;
  const flags: string[] = [];
  if (wanted) flags.push(`adapter=${wanted}`);
  dawnRoot = create(flags);
  let adapter: GPUAdapter | null = null;
  try {
    adapter = await dawnRoot.requestAdapter({ powerPreference: 'high-performance' });
  } catch (e) {
    if (wanted) {
      const names = await listAdapters();
      throw new NoAdapterError(`no WebGPU adapter matches '${wanted}'; available: ${names.join(', ') || 'none'} (pass one with --adapter NAME or SALN_ADAPTER)`);
    }
    throw new NoAdapterError(`no WebGPU adapter (${(e as Error).message.split('\n')[0]}); run 'npm run setup' to install a Vulkan driver`);
  }
  if (!adapter) throw new NoAdapterError("no WebGPU adapter found; run 'npm run setup' to install a Vulkan driver (lavapipe works without a GPU)");

  const requiredLimits: Record<string, number> = {};
  for (const name of REQUESTED_LIMITS) {
    const value = (adapter.limits as unknown as Record<string, number>)[name];
    if (typeof value === 'number') requiredLimits[name] = value;
  }
  const features = [...adapter.features] as string[];
  const wantedFeatures = ['timestamp-query', 'subgroups', 'shader-f16'].filter((f) => features.includes(f)) as GPUFeatureName[];
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures: wantedFeatures, label: 'saln' });

  // SALN_MEMORY_LIMIT: lower the buffer limits to test out-of-memory handling on small shapes.
  const memoryLimit = settings.memoryLimit;
  const limits: Record<string, number> = { ...requiredLimits };
  if (memoryLimit !== undefined) {
    for (const name of ['maxBufferSize', 'maxStorageBufferBindingSize']) limits[name] = Math.min(limits[name] ?? memoryLimit, memoryLimit);
  }

  const uncaptured: string[] = [];
  let outOfMemory = false;
  let lost: GPUDeviceLostInfo | null = null;
  let destroyedByUs = false;
  const backend = /vulkan/i.test(adapter.info.description) ? 'vulkan' : detectBackend();
  const info = describe(adapter, backend);
  const ctx: GpuContext = {
    device, adapter, info,
    adapterKey: [info.vendor, info.architecture, info.device, info.description].join('|'),
    limits,
    features,
    subgroupSizes: wantedFeatures.includes('subgroups' as GPUFeatureName)
      ? [adapter.info.subgroupMinSize ?? 0, adapter.info.subgroupMaxSize ?? 0] : [0, 0],
    software: /llvmpipe|lavapipe|swiftshader|software/i.test(`${info.architecture} ${info.description} ${info.device}`),
    lastKernel: '(none)',
    destroyed: false,
    checkErrors(context: string) {
      if (lost && !destroyedByUs) {
        const reason = `${lost.reason}${lost.message ? ` (${lost.message.split('\n')[0]})` : ''}`;
        throw new DeviceLostError(`GPU device lost during ${context}: ${reason}; restart the process, and run 'saln info' to check the adapter`, reason);
      }
      if (uncaptured.length > 0) {
        const first = uncaptured[0];
        const more = uncaptured.length > 1 ? ` (+${uncaptured.length - 1} more)` : '';
        uncaptured.length = 0;
        if (outOfMemory) {
          outOfMemory = false;
          throw new GpuMemoryError(`GPU out of memory before ${context}${more}: ${first}; use a smaller --batch-size`, 0, 0);
        }
        throw new GpuError(`GPU error before ${context}${more}: ${first}`);
      }
    },
    destroy() {
      if (ctx.destroyed) return;
      ctx.destroyed = true;
      destroyedByUs = true;
      device.destroy();
      // dawnRoot stays referenced: collected after the device's destruction but before the process ends, it
      // crashed the process at exit (segfault or abort in about half the runs of a command that ran no kernel).
      current = null;
    },
    simulateLoss() {
      device.destroy();
    },
  };
  device.onuncapturederror = (event) => {
    // Without preventDefault dawn.node also prints every error to stdout; ours surfaces at the next sync.
    event.preventDefault();
    const message = event.error.message.split('\n').filter(Boolean).slice(0, 3).join(' | ');
    if (event.error instanceof GPUOutOfMemoryError) outOfMemory = true;
    uncaptured.push(`in kernel ${ctx.lastKernel}: ${message}`);
  };
  void device.lost.then((info) => {
    lost = info;
    if (!destroyedByUs) process.stderr.write(`saln: GPU device lost: ${info.reason} ${info.message ?? ''}\n`);
  });
  // Dawn keeps no handle that holds the event loop, so the process reaches beforeExit; release the device
  // there so that the process exits by itself without leaving Vulkan state behind.
  process.once('beforeExit', () => ctx.destroy());
  return ctx;
}

function detectBackend(): string {
  return process.platform === 'darwin' ? 'metal' : process.platform === 'win32' ? 'd3d12' : 'vulkan';
}

export function isGpuOpen(): boolean {
  return current !== null;
}
