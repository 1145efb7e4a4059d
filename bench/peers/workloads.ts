// The peers' side of each compared case, on the same data as ours: a call per timed run, synced on its result
// before the clock stops, and the last result handed back so that it can be checked against the reference.
import type * as TF from '@tensorflow/tfjs-core';
import { measure, type Stats } from '../measure.ts';
import type { Peer } from './tfjs.ts';
import { PeerResNet18, type PeerResNetConfig } from './resnet.ts';

export interface PeerRun {
  seconds: Stats;
  /** The last call's outputs, read back after timing. */
  outputs: Float32Array[];
}

/** Times `call` (which returns fresh tensors) and keeps the last call's results for checking. */
async function timed(peer: Peer, runs: number, call: () => TF.Tensor[]): Promise<PeerRun> {
  let last: TF.Tensor[] = [];
  const seconds = await measure(runs, () => {
    for (const t of last) t.dispose();
    last = call();
  }, () => peer.sync(last[last.length - 1]));
  const outputs = await Promise.all(last.map(async (t) => Float32Array.from(await t.data() as Float32Array)));
  for (const t of last) t.dispose();
  return { seconds, outputs };
}

export async function peerMatmul(peer: Peer, runs: number, M: number, N: number, K: number, a: Float32Array, b: Float32Array): Promise<PeerRun> {
  await peer.use();
  const tf = peer.tf;
  const ta = tf.tensor2d(a, [M, K]), tb = tf.tensor2d(b, [K, N]);
  try {
    return await timed(peer, runs, () => [tf.matMul(ta, tb)]);
  } finally {
    ta.dispose(); tb.dispose();
  }
}

export interface PeerConvCase {
  xShape: [number, number, number, number];
  /** TF.js layout [KH, KW, Cin, Cout]. */
  filterShape: [number, number, number, number];
  stride: number;
  pad: number;
}

/** The conv forward alone, or forward + input gradient + weight gradient from dy (outputs [dx, dW]). */
export async function peerConv(peer: Peer, runs: number, c: PeerConvCase, x: Float32Array, filter: Float32Array, dy: Float32Array | null): Promise<PeerRun> {
  await peer.use();
  const tf = peer.tf;
  const tx = tf.tensor4d(x, c.xShape), tw = tf.tensor4d(filter, c.filterShape);
  const conv = (xx: TF.Tensor4D, ww: TF.Tensor4D) => tf.conv2d(xx, ww, c.stride, c.pad);
  let tdy: TF.Tensor | null = null;
  try {
    if (!dy) return await timed(peer, runs, () => [conv(tx, tw)]);
    const [N, H, W] = c.xShape;
    const [KH, , , Cout] = c.filterShape;
    const Ho = Math.floor((H + 2 * c.pad - KH) / c.stride) + 1, Wo = Math.floor((W + 2 * c.pad - KH) / c.stride) + 1;
    tdy = tf.tensor4d(dy, [N, Ho, Wo, Cout]);
    // tf.grads runs the forward under its tape, then both gradient kernels: the same work as ours.
    const grads = tf.grads((xx: TF.Tensor, ww: TF.Tensor) => conv(xx as TF.Tensor4D, ww as TF.Tensor4D));
    return await timed(peer, runs, () => grads([tx, tw], tdy!));
  } finally {
    tx.dispose(); tw.dispose(); tdy?.dispose();
  }
}

export interface PeerStepCase extends PeerResNetConfig {
  batch: number;
  size: number;
}

/** Seconds per ResNet-18 training step (forward, backward, SGD update), synced on the loss; and the last loss. */
export async function peerStep(peer: Peer, runs: number, c: PeerStepCase, images: Float32Array): Promise<{ seconds: Stats; loss: number }> {
  await peer.use();
  const tf = peer.tf;
  const model = new PeerResNet18(tf, c);
  const x = tf.tensor4d(images, [c.batch, c.size, c.size, 3]);
  const labels = tf.tidy(() => tf.oneHot(tf.tensor1d(Int32Array.from({ length: c.batch }, (_, i) => i % c.classes), 'int32'), c.classes) as TF.Tensor2D);
  let loss: TF.Scalar | null = null;
  try {
    const seconds = await measure(runs, () => {
      loss?.dispose();
      loss = model.step(x, labels);
    }, () => peer.sync(loss!));
    return { seconds, loss: (await loss!.data())[0] };
  } finally {
    (loss as TF.Scalar | null)?.dispose();
    x.dispose(); labels.dispose(); model.dispose();
  }
}
