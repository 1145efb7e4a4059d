// Prints the first WebGPU adapter's description, or exits 1. Used by setup.sh to decide whether a Vulkan
// driver must be installed; kept in plain JS so it runs before anything is compiled.
import { create, globals } from 'webgpu';
Object.assign(globalThis, globals);
const gpu = create([]);
const adapter = await gpu.requestAdapter();
if (!adapter) { console.error('no WebGPU adapter'); process.exit(1); }
const info = adapter.info ?? {};
console.log([info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' | ') || 'unknown adapter');
process.exit(0);
