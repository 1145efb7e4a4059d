// dawn.node drives every pending promise (mapAsync, onSubmittedWorkDone) by re-arming `setImmediate` from the
// global object after each ProcessEvents call. While the GPU works that loop spins a whole core; on a 2-core
// machine running lavapipe, whose worker threads need that core, the spin cost up to 40% of throughput.
// Dawn looks `setImmediate` up on every tick, so we hand it a version that spins only for a short while
// (short waits stay fast) and then falls back to 1 ms timers. Only native callbacks are throttled: JS code
// calling setImmediate keeps the real behaviour.
import { settings } from '../util/settings.ts';

const realSetImmediate = globalThis.setImmediate;
const SPIN_MS = 0.25;
let streakStart = 0;
let lastNativeTick = 0;
let installed = false;
let nativeTicks = 0;
let sleptTicks = 0;

function isNative(fn: unknown): boolean {
  return typeof fn === 'function' && Function.prototype.toString.call(fn).endsWith('{ [native code] }');
}

export function installPollThrottle(): void {
  if (installed || !settings.throttle) return;
  installed = true;
  const throttled = function (this: unknown, fn: (...args: unknown[]) => void, ...args: unknown[]) {
    if (!isNative(fn)) return realSetImmediate(fn, ...args);
    const now = performance.now();
    // A gap longer than a few ms means a new wait began: spin again first for low latency.
    if (now - lastNativeTick > 5) streakStart = now;
    lastNativeTick = now;
    nativeTicks++;
    if (now - streakStart < SPIN_MS) return realSetImmediate(fn, ...args);
    sleptTicks++;
    return setTimeout(fn, 1, ...args) as unknown as NodeJS.Immediate;
  };
  globalThis.setImmediate = Object.assign(throttled, { __promisify__: realSetImmediate.__promisify__ }) as typeof setImmediate;
}

export function pollStats(): { nativeTicks: number; sleptTicks: number } {
  return { nativeTicks, sleptTicks };
}
