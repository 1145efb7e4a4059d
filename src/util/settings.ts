// The SALN_* environment, read once when the process starts, into plain options the library consults. Nothing
// below src/cli/ reads process.env for these itself; tests change a setting here (or pass `env` to
// readSettings) instead of editing the environment. `saln --help` lists ENVIRONMENT.

export interface Settings {
  /** SALN_ADAPTER: substring of the adapter name (`--adapter` wins). */
  adapter?: string;
  /** SALN_MATMUL: a matmul design forced instead of the tuned one. */
  matmul?: string;
  /** SALN_KSTEPS=1|2: the subgroup convs' k steps per loop iteration forced instead of the tuned ones. */
  kSteps?: string;
  /** SALN_CACHE: the directory of the per-adapter tuning cache (default ~/.cache/saln, or under XDG_CACHE_HOME). */
  cache?: string;
  /** SALN_POOL=0: create and destroy every buffer (debug the buffer pool). */
  pool: boolean;
  /** SALN_NO_THROTTLE=1: let dawn.node poll the GPU in a tight loop. */
  throttle: boolean;
  /** SALN_DEBUG=1: stack traces instead of one-line errors. */
  debug: boolean;
  /** SALN_MEMORY_LIMIT: lower the adapter's buffer limits to this many bytes. */
  memoryLimit?: number;
  /** SALN_PROFILE=fenced: time profiles with fenced wall time even where timestamp queries exist. */
  fencedProfile: boolean;
}

/** Every variable saln reads, with what it does (for `--help`). */
export const ENVIRONMENT: readonly (readonly [string, string])[] = [
  ['SALN_ADAPTER=NAME', 'use the WebGPU adapter whose name contains NAME (like --adapter)'],
  ['SALN_MATMUL=tiled|regtile|naive|texture|subgroup', 'force a matmul design instead of the tuned one'],
  ['SALN_KSTEPS=1|2', "force the subgroup convs' k steps per loop iteration instead of the tuned ones"],
  ['SALN_DATA=DIR', 'the data directory (default: datasets/data in the package)'],
  ['SALN_DOWNLOAD_BASE=URL', 'fetch every data file from URL/NAME/FILE (a local mirror)'],
  ['SALN_CACHE=DIR', 'where the per-adapter tuning is cached (default: ~/.cache/saln)'],
  ['SALN_POOL=0', 'create and destroy every buffer (debug the buffer pool)'],
  ['SALN_NO_THROTTLE=1', 'let dawn.node poll the GPU in a tight loop (see README)'],
  ['SALN_DEBUG=1', 'print stack traces instead of one-line errors'],
  ['SALN_MEMORY_LIMIT=N', "lower the adapter's buffer limits to N bytes (tests of out-of-memory handling)"],
  ['SALN_PROFILE=fenced', 'time profiles with fenced wall time even where timestamp queries exist'],
  ['SALN_PEER_PYTHON=PATH', 'the Python that runs the PyTorch peer in `saln bench` (default /usr/bin/python3)'],
  ['SALN_FUZZ_COUNT, SALN_KILLS, SALN_LONG_STEPS', 'the test suite only: fuzz cases, checkpoint kills, long-run steps'],
];

export function readSettings(env: Record<string, string | undefined> = process.env): Settings {
  const memoryLimit = Number(env.SALN_MEMORY_LIMIT);
  return {
    adapter: env.SALN_ADAPTER || undefined,
    matmul: env.SALN_MATMUL || undefined,
    kSteps: env.SALN_KSTEPS || undefined,
    cache: env.SALN_CACHE || undefined,
    pool: env.SALN_POOL !== '0',
    throttle: env.SALN_NO_THROTTLE !== '1',
    debug: env.SALN_DEBUG === '1',
    memoryLimit: memoryLimit > 0 ? memoryLimit : undefined,
    fencedProfile: env.SALN_PROFILE === 'fenced',
  };
}

/** This process's settings. */
export const settings: Settings = readSettings();
