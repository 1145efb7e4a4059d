// Error types a user can act on. Every message is one line that names the cause and the fix.

export class GpuError extends Error {
  /** Each subclass's own class name ('ShaderCompileError', ...), so no subclass has to spell it again. */
  override name = this.constructor.name;
}

/** No adapter, or the one asked for does not exist. */
export class NoAdapterError extends GpuError {}

/** The device was lost (driver reset, destroy, out of memory); the reason comes from Dawn. */
export class DeviceLostError extends GpuError {
  /** Dawn's reason and message, without advice (callers add their own). */
  constructor(message: string, readonly reason: string) {
    super(message);
  }
}

/** A kernel's launch arguments do not match what its WGSL declares. */
export class KernelArgumentError extends GpuError {}

/** WGSL that does not compile; the message carries file:line:column and the source lines. */
export class ShaderCompileError extends GpuError {}

/** A buffer or binding beyond the adapter's limits, or an allocation the device refused. */
export class GpuMemoryError extends GpuError {
  /** What was asked for, the limit it broke (0 when the driver did not say) and the buffer's label. */
  constructor(message: string, readonly bytes: number, readonly limit: number, readonly label = '') {
    super(message);
  }
}

export function formatBytes(bytes: number): string {
  if (bytes >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(2)} GiB`;
  if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  if (bytes >= 2 ** 10) return `${(bytes / 2 ** 10).toFixed(1)} KiB`;
  return `${bytes} B`;
}
