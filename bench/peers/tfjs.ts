// TensorFlow.js as the peer a Node user would otherwise pick: its WebGPU backend on the same Dawn adapter as
// ours, and its WASM backend. Dev dependencies of bench/ only, loaded with dynamic imports so that `saln bench`
// without --peers runs where they are absent; nothing under src/ may import this.
import type * as TF from '@tensorflow/tfjs-core';
import { installPollThrottle } from '../../src/gpu/throttle.ts';
import { registerWasmConvFilterGrad } from './wasm-conv-filter.ts';
import { registerTfjsGradients } from './gradients.ts';

export type TfModule = typeof TF;
export type PeerEngine = 'tfjs-webgpu' | 'tfjs-wasm';

export interface Peer {
  engine: PeerEngine;
  tf: TfModule;
  /** What it is, for the header: backend, adapter or SIMD/threads. */
  description: string;
  /** Makes this peer's backend the current one (tensors made after it live there). */
  use(): Promise<void>;
  /** Returns once `result` and everything queued before it is computed. */
  sync(result: TF.Tensor): Promise<void>;
}

export interface Peers {
  available: Peer[];
  /** Peers that could not start, and why (printed, never fatal: the other peer still runs). */
  unavailable: { engine: PeerEngine; reason: string }[];
  /** Things the reader must know about how a peer was run (a kernel we registered for it). */
  notes: string[];
}

interface WebGpuBackendLike {
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
  queue: GPUQueue;
}

// Dawn aborts the process if the object create() returned is garbage-collected while a device lives.
let dawnRoot: GPU | null = null;
let peerDevice: GPUDevice | null = null;
let loaded: Promise<Peers> | null = null;

export function loadPeers(options: { adapter?: string } = {}): Promise<Peers> {
  loaded ??= load(options);
  return loaded;
}

const MISSING = 'the peers are dev dependencies of bench/: run `npm install` in the saln checkout ' +
  '(@tensorflow/tfjs-core, @tensorflow/tfjs-backend-webgpu and @tensorflow/tfjs-backend-wasm 4.22)';

async function importPeer<T>(name: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_MODULE_NOT_FOUND' || /Cannot find (module|package)/.test(String((e as Error).message))) {
      throw new Error(`--peers: ${name} is not installed; ${MISSING}`);
    }
    throw e;
  }
}

/** Releases the peers' backends and their GPU device (so the process exits without leaving Vulkan state). */
export async function closePeers(): Promise<void> {
  if (!loaded) return;
  const peers = await loaded.catch(() => null);
  loaded = null;
  const tf = peers?.available[0]?.tf;
  if (tf) for (const name of ['webgpu', 'wasm']) if (tf.findBackend(name)) tf.removeBackend(name);
  peerDevice?.destroy();
  peerDevice = null;
  dawnRoot = null;
}

async function load(options: { adapter?: string }): Promise<Peers> {
  // The same treatment of dawn.node's polling as ours gets, installed before TF.js ever waits on the GPU.
  installPollThrottle();
  const tf = await importPeer('@tensorflow/tfjs-core', () => import('@tensorflow/tfjs-core'));
  await registerTfjsGradients(tf);
  const peers: Peers = { available: [], unavailable: [], notes: [] };
  try {
    peers.available.push(await webgpuPeer(tf, options.adapter));
  } catch (e) {
    peers.unavailable.push({ engine: 'tfjs-webgpu', reason: (e as Error).message.split('\n')[0] });
  }
  try {
    const wasm = await wasmPeer(tf);
    peers.available.push(wasm.peer);
    if (wasm.note) peers.notes.push(wasm.note);
  } catch (e) {
    peers.unavailable.push({ engine: 'tfjs-wasm', reason: (e as Error).message.split('\n')[0] });
  }
  return peers;
}

async function webgpuPeer(tf: TfModule, adapterName: string | undefined): Promise<Peer> {
  const { create, globals } = await import('webgpu');
  Object.assign(globalThis, globals);
  // Imported while navigator.gpu is unset, so the package does not register its own factory (which would ask
  // navigator.gpu for the default adapter); ours picks the adapter exactly as src/gpu/context.ts does.
  const { WebGPUBackend } = await importPeer('@tensorflow/tfjs-backend-webgpu', () => import('@tensorflow/tfjs-backend-webgpu'));
  const wanted = adapterName ?? process.env.SALN_ADAPTER;
  dawnRoot = create(wanted ? [`adapter=${wanted}`] : []);
  const g = globalThis as { navigator?: object };
  if (!g.navigator) Object.defineProperty(globalThis, 'navigator', { value: {}, configurable: true, writable: true });
  // TF.js checks navigator.gpu when it builds its backend.
  Object.defineProperty(g.navigator, 'gpu', { value: dawnRoot, configurable: true });
  let failure: Error | null = null;
  let adapterDescription = '';
  tf.registerBackend('webgpu', async () => {
    try {
      // What @tensorflow/tfjs-backend-webgpu's own factory asks for (base.ts), on our adapter.
      const adapter = await dawnRoot!.requestAdapter({ powerPreference: 'high-performance' });
      if (!adapter) throw new Error(`no WebGPU adapter${wanted ? ` matching '${wanted}'` : ''}`);
      adapterDescription = adapter.info.description || adapter.info.device;
      const limits = adapter.limits;
      const device = await adapter.requestDevice({
        requiredFeatures: adapter.features.has('timestamp-query') ? ['timestamp-query'] : [],
        requiredLimits: {
          maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
          maxComputeWorkgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension,
          maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
          maxBufferSize: limits.maxBufferSize,
          maxComputeWorkgroupSizeX: limits.maxComputeWorkgroupSizeX,
          maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
        },
        label: 'tfjs-webgpu',
      });
      peerDevice = device;
      return new WebGPUBackend(device, adapter.info);
    } catch (e) {
      failure = e as Error;
      throw e;
    }
  }, 0);
  const quiet = console.warn;
  console.warn = () => {}; // TF.js prints the stack of a failed backend; the reason is reported instead
  let ok: boolean;
  try {
    ok = await tf.setBackend('webgpu');
  } finally {
    console.warn = quiet;
  }
  if (!ok) throw new Error(`TF.js WebGPU backend did not start on dawn.node: ${(failure as Error | null)?.message ?? 'unknown reason'}`);
  return {
    engine: 'tfjs-webgpu', tf,
    description: `TF.js ${tf.version_core} WebGPU backend on ${adapterDescription} (its own device, dawn.node)`,
    async use() { await tf.setBackend('webgpu'); },
    async sync() {
      // What its own readback does first (getBufferData): close the open pass, submit what was recorded.
      const backend = tf.backend() as unknown as WebGpuBackendLike;
      backend.ensureCommandEncoderReady();
      backend.endComputePassEncoder();
      backend.submitQueue();
      await backend.queue.onSubmittedWorkDone();
    },
  };
}

async function wasmPeer(tf: TfModule): Promise<{ peer: Peer; note: string | null }> {
  const wasm = await importPeer('@tensorflow/tfjs-backend-wasm', () => import('@tensorflow/tfjs-backend-wasm'));
  // The Node build finds its .wasm files beside itself in node_modules, so setWasmPaths is not needed.
  if (!(await tf.setBackend('wasm'))) throw new Error('TF.js WASM backend did not start');
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  const threads = wasm.getThreadsCount();
  const note = registerWasmConvFilterGrad(tf)
    ? 'tfjs-wasm has no Conv2DBackpropFilter kernel (convnet training throws as shipped); bench registered one built ' +
      'from its own kernels: pad + strided slices + concat (im2col), then BatchMatMul(dy^T, patches) and a transpose'
    : null;
  return {
    peer: {
      engine: 'tfjs-wasm', tf,
      description: `TF.js ${tf.version_core} WASM backend, SIMD ${simd ? 'on' : 'off'}, ${threads} thread${threads === 1 ? '' : 's'} (threads are off under Node)`,
      async use() { await tf.setBackend('wasm'); },
      // Its kernels run synchronously; reading the result makes that explicit at the cost of one copy.
      async sync(result) { result.dataSync(); },
    },
    note,
  };
}
