// PyTorch as a peer: the program a user without a GPU would actually pick. bench/peers/pytorch_peer.py runs
// in a child Python process (one per bench run, so torch is imported once), one JSON job per line each way;
// inputs travel as base64 float32 in our layouts, so its results are checked with the same float64 samples.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { statsOf, type Stats } from '../measure.ts';
import type { ComparedPeer } from './peers.ts';

/** Debian's python3-torch installs for the system interpreter; the first python3 on PATH may be another one. */
export const PYTHON = process.env.SALN_PEER_PYTHON ?? '/usr/bin/python3';

const HERE = dirname(fileURLToPath(import.meta.url));
/** Beside this file in the checkout; from the compiled dist/bench/peers/, three levels up then bench/peers/. */
export const PEER_SCRIPT = [join(HERE, 'pytorch_peer.py'), join(HERE, '..', '..', '..', 'bench', 'peers', 'pytorch_peer.py')].find(existsSync)
  ?? join(HERE, 'pytorch_peer.py');

export const INSTALL_HINT = '`npm run setup -- --peers` installs Debian\'s python3-torch';

export interface TorchInfo {
  engine: string;
  version: string;
  threads: number;
  mkldnn: boolean;
  gpu?: string;
}

export interface TorchResult {
  seconds: Stats;
  outputs: Float32Array[];
  loss?: number;
}

export class TorchProcess {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly pending: { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void }[] = [];
  private exited: Error | null = null;
  private stderr = '';

  constructor(readonly python = PYTHON) {
    this.child = spawn(python, [PEER_SCRIPT], { stdio: ['pipe', 'pipe', 'pipe'] });
    // A write after the child died (no interpreter) would otherwise be an unhandled EPIPE; exit reports it.
    this.child.stdin.on('error', () => {});
    this.child.stderr.on('data', (d: Buffer) => { this.stderr = (this.stderr + d.toString()).slice(-2000); });
    const fail = (e: Error) => {
      this.exited ??= e;
      for (const p of this.pending.splice(0)) p.reject(e);
    };
    this.child.on('error', (e) => fail(new Error(`cannot run ${python}: ${e.message}`)));
    this.child.on('exit', (code, signal) => {
      const last = this.stderr.trim().split('\n').pop() ?? '';
      fail(new Error(`${python} ${PEER_SCRIPT} exited (${signal ?? code})${last ? `: ${last}` : ''}`));
    });
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      const waiter = this.pending.shift();
      if (!waiter) return;
      try {
        waiter.resolve(JSON.parse(line));
      } catch {
        waiter.reject(new Error(`the PyTorch peer printed something that is not JSON: ${line.slice(0, 200)}`));
      }
    });
  }

  /** Sends one job and waits for its answer; an `error` answer throws, `unavailable` is returned as is. */
  async ask(job: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (this.exited) throw this.exited;
    const answer = new Promise<Record<string, unknown>>((resolve, reject) => this.pending.push({ resolve, reject }));
    this.child.stdin.write(`${JSON.stringify(job)}\n`);
    const result = await answer;
    if (typeof result.error === 'string') throw new Error(`the PyTorch peer failed on ${String(job.task)}: ${result.error}`);
    return result;
  }

  /** Sends a timed job; the seconds become our statistics, the outputs float32 arrays again. */
  async timed(job: Record<string, unknown>): Promise<TorchResult> {
    const result = await this.ask(job);
    return {
      seconds: statsOf(result.seconds as number[]),
      outputs: ((result.outputs as string[] | undefined) ?? []).map(fromBase64),
      loss: result.loss as number | undefined,
    };
  }

  close(): void {
    if (!this.exited) this.child.stdin.end();
  }
}

export function toBase64(data: Float32Array): string {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64');
}

export function fromBase64(text: string): Float32Array {
  const bytes = Buffer.from(text, 'base64');
  // Copied into a fresh, aligned buffer: a Buffer's offset into its pool need not be a multiple of 4.
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

/**
 * Starts the peer on `device` and asks what it is: the process and its description, or why it cannot run
 * (no interpreter, no torch, no CUDA device), as one line.
 */
export async function startTorch(device: 'cpu' | 'cuda', options: { threads?: number; python?: string } = {}): Promise<{ torch: TorchProcess; info: TorchInfo } | { reason: string }> {
  const { threads, python = PYTHON } = options;
  const torch = new TorchProcess(python);
  try {
    const info = await torch.ask({ task: 'info', device, threads });
    if (typeof info.unavailable === 'string') {
      torch.close();
      return { reason: `${info.unavailable}; ${INSTALL_HINT}` };
    }
    return { torch, info: info as unknown as TorchInfo };
  } catch (e) {
    torch.close();
    return { reason: `${(e as Error).message.split('\n')[0]}; ${INSTALL_HINT}` };
  }
}

/** The PyTorch process as a compared peer: the same cases as the TF.js peers, in the same layouts. */
export function fromTorch(torch: TorchProcess, info: TorchInfo): ComparedPeer {
  const engine = info.engine === 'pytorch-cuda' ? 'pytorch-cuda' : 'pytorch-cpu';
  const where = info.gpu ? `CUDA on ${info.gpu}` : `CPU${info.mkldnn ? ' (oneDNN)' : ''}, ${info.threads} thread${info.threads === 1 ? '' : 's'} (the machine's ${cpus().length} cores)`;
  return {
    engine,
    description: `PyTorch ${info.version} ${where}, ${torch.python}`,
    matmul: (runs, M, N, K, a, b) => torch.timed({ task: 'matmul', runs, M, N, K, a: toBase64(a), b: toBase64(b) }),
    conv: (runs, c, x, filter, dy) => torch.timed({
      task: 'conv', runs, x_shape: c.xShape, filter_shape: c.filterShape, stride: c.stride, pad: c.pad,
      x: toBase64(x), filter: toBase64(filter), dy: dy ? toBase64(dy) : null,
    }),
    step: async (runs, c, images) => {
      const r = await torch.timed({ task: 'step', runs, stem: c.stem, width: c.width, classes: c.classes, batch: c.batch, size: c.size, images: toBase64(images) });
      return { seconds: r.seconds, loss: r.loss ?? NaN };
    },
    updatesRunningStats: true, // nn.BatchNorm2d in training mode does
    slowImagenetStep: false,
  };
}
