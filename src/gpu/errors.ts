// Error types a user can act on. Every message is one line that names the cause and the fix.

export class GpuError extends Error {
  override name = 'GpuError';
}

/** No adapter, or the one asked for does not exist. */
export class NoAdapterError extends GpuError {
  override name = 'NoAdapterError';
}

/** The device was lost (driver reset, destroy, out of memory); the reason comes from Dawn. */
export class DeviceLostError extends GpuError {
  override name = 'DeviceLostError';
}

/** A kernel's launch arguments do not match what its WGSL declares. */
export class KernelArgumentError extends GpuError {
  override name = 'KernelArgumentError';
}

/** WGSL that does not compile; the message carries file:line:column and the source lines. */
export class ShaderCompileError extends GpuError {
  override name = 'ShaderCompileError';
}
