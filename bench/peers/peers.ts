// Every peer behind one face, so that a suite runs each compared case on each of them the same way: the TF.js
// backends (in-process) and PyTorch (a child Python process). Loaded only under --peers.
import type { Stats } from '../measure.ts';
import { closePeers as closeTfjs, loadPeers as loadTfjs, type Peer as TfjsPeer } from './tfjs.ts';
import { peerConv, peerMatmul, peerStep, type PeerConvCase, type PeerRun, type PeerStepCase } from './workloads.ts';
import { fromTorch, startTorch, type TorchProcess } from './pytorch.ts';

export type PeerEngine = 'tfjs-webgpu' | 'tfjs-wasm' | 'pytorch-cpu' | 'pytorch-cuda';

/** One peer's side of each compared case, on the same data as ours, its last result handed back for checking. */
export interface ComparedPeer {
  engine: PeerEngine;
  /** What it is, for the header: backend, version, adapter, threads. */
  description: string;
  matmul(runs: number, M: number, N: number, K: number, a: Float32Array, b: Float32Array): Promise<PeerRun>;
  /** The conv forward alone, or forward + both gradients from dy (outputs [dx NHWC, dW HWIO]); filter in HWIO. */
  conv(runs: number, c: PeerConvCase, x: Float32Array, filter: Float32Array, dy: Float32Array | null): Promise<PeerRun>;
  step(runs: number, c: PeerStepCase, images: Float32Array): Promise<{ seconds: Stats; loss: number }>;
  /** Whether its training step updates the BN running statistics as ours does. */
  updatesRunningStats: boolean;
  /** Its ImageNet-stem step takes minutes, so it runs only under --peers-imagenet. */
  slowImagenetStep: boolean;
}

export interface Peers {
  available: ComparedPeer[];
  /** Peers that could not start, and why (printed, never fatal: the others still run). */
  unavailable: { engine: PeerEngine; reason: string }[];
  notes: string[];
}

let torchProcess: TorchProcess | null = null;

export async function loadPeers(options: { adapter?: string } = {}): Promise<Peers> {
  const tfjs = await loadTfjs(options);
  const peers: Peers = { available: tfjs.available.map(fromTfjs), unavailable: [...tfjs.unavailable], notes: [...tfjs.notes] };
  const torch = await startTorch('cpu');
  if ('reason' in torch) {
    peers.unavailable.push({ engine: 'pytorch-cpu', reason: torch.reason });
  } else {
    torchProcess = torch.torch;
    peers.available.push(fromTorch(torch.torch, torch.info));
  }
  return peers;
}

export async function closePeers(): Promise<void> {
  torchProcess?.close();
  torchProcess = null;
  await closeTfjs();
}

function fromTfjs(peer: TfjsPeer): ComparedPeer {
  return {
    engine: peer.engine,
    description: peer.description,
    matmul: (runs, M, N, K, a, b) => peerMatmul(peer, runs, M, N, K, a, b),
    conv: (runs, c, x, filter, dy) => peerConv(peer, runs, c, x, filter, dy),
    step: (runs, c, images) => peerStep(peer, runs, c, images),
    updatesRunningStats: false,
    slowImagenetStep: true,
  };
}
