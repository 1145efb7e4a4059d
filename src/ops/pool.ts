// Pooling on NHWC activations: max-pool with arg-max (forward and backward), global average pool.
import { Tensor } from '../tensor.ts';
import { widthBindings, widthFor } from './vec4-twin.ts';

export interface MaxPoolOptions {
  /** Window size, one number for a square window or [height, width]; 3 by default (ResNet's stem). */
  kernel?: number | readonly [number, number];
  stride?: number | readonly [number, number];
  padding?: number | readonly [number, number];
}

export interface MaxPoolGeometry {
  batch: number; inH: number; inW: number; channels: number;
  outH: number; outW: number;
  kernelH: number; kernelW: number; strideH: number; strideW: number; padH: number; padW: number;
}

const WG = 256;
const pair = (v: number | readonly [number, number]): [number, number] => (typeof v === 'number' ? [v, v] : [v[0], v[1]]);

/** PyTorch's output size (floor mode): floor((size + 2 * padding - kernel) / stride) + 1. */
export function poolOutputSize(size: number, kernel: number, stride: number, padding: number): number {
  return Math.floor((size + 2 * padding - kernel) / stride) + 1;
}

function nhwc(op: string, shape: readonly number[]): [number, number, number, number] {
  if (shape.length !== 4) throw new Error(`${op} takes NHWC activations [N, H, W, C], got [${shape.join(', ')}]`);
  return [shape[0], shape[1], shape[2], shape[3]];
}

export function maxPoolGeometry(inputShape: readonly number[], options: MaxPoolOptions = {}): MaxPoolGeometry {
  const [batch, inH, inW, channels] = nhwc('max-pool', inputShape);
  const [kernelH, kernelW] = pair(options.kernel ?? 3);
  const [strideH, strideW] = pair(options.stride ?? 2);
  const [padH, padW] = pair(options.padding ?? 1);
  if (![kernelH, kernelW, strideH, strideW].every((v) => Number.isInteger(v) && v >= 1) || ![padH, padW].every((v) => Number.isInteger(v) && v >= 0)) {
    throw new Error(`max-pool: kernel and stride must be positive integers and padding a non-negative one (kernel ${kernelH}x${kernelW}, stride ${strideH}x${strideW}, padding ${padH}x${padW})`);
  }
  // PyTorch's rule; it also guarantees that every window holds at least one real input element.
  if (2 * padH > kernelH || 2 * padW > kernelW) throw new Error(`max-pool: padding ${padH}x${padW} exceeds half the kernel ${kernelH}x${kernelW}`);
  const outH = poolOutputSize(inH, kernelH, strideH, padH);
  const outW = poolOutputSize(inW, kernelW, strideW, padW);
  if (outH < 1 || outW < 1) throw new Error(`max-pool: input ${inH}x${inW} is smaller than the kernel ${kernelH}x${kernelW} with padding ${padH}x${padW}`);
  return { batch, inH, inW, channels, outH, outW, kernelH, kernelW, strideH, strideW, padH, padW };
}

// One uniform struct serves every entry of shaders/pool.wgsl; the window fields are unused by the average pool.
function poolUniforms(g: Pick<MaxPoolGeometry, 'batch' | 'inH' | 'inW' | 'channels'> & Partial<MaxPoolGeometry>, total: number, extra: { channelTile?: number; rowLanes?: number; scale?: number } = {}) {
  return {
    batch: g.batch, inH: g.inH, inW: g.inW, channels: g.channels,
    outH: g.outH ?? 1, outW: g.outW ?? 1, kernelH: g.kernelH ?? 1, kernelW: g.kernelW ?? 1,
    strideH: g.strideH ?? 1, strideW: g.strideW ?? 1, padH: g.padH ?? 0, padW: g.padW ?? 0,
    total, channelTile: extra.channelTile ?? 1, rowLanes: extra.rowLanes ?? 1, scale: extra.scale ?? 1,
  };
}

/**
 * Max-pool forward. `argmax` (u32, the output's shape) holds, per output element, the spatial index h * W + w
 * of the winning input element in its (n, c) plane; ties go to the first maximum in window order.
 */
export function maxPool2d(x: Tensor, options: MaxPoolOptions = {}): { y: Tensor; argmax: Tensor } {
  const g = maxPoolGeometry(x.shape, options);
  const outShape = [g.batch, g.outH, g.outW, g.channels];
  const y = Tensor.empty(x.rt, outShape);
  const argmax = Tensor.empty(x.rt, outShape, 'u32');
  if (y.size > 0) {
    x.rt.launch({
      shader: 'pool', entry: 'max_forward', bindings: { x, y, argmaxOut: argmax },
      needs: { x: x.size, y: y.size, argmaxOut: argmax.size },
      uniforms: poolUniforms(g, y.size), invocations: y.size,
    });
  }
  return { y, argmax };
}

/** Max-pool backward: each input element receives the dy of every window whose arg-max it is. */
export function maxPool2dBackward(dy: Tensor, argmax: Tensor, inputShape: readonly number[], options: MaxPoolOptions = {}): Tensor {
  const g = maxPoolGeometry(inputShape, options);
  const outSize = g.batch * g.outH * g.outW * g.channels;
  if (dy.size !== outSize || argmax.size !== outSize) {
    throw new Error(`max-pool backward: dy [${dy.shape.join(', ')}] and argmax [${argmax.shape.join(', ')}] must have the output shape [${[g.batch, g.outH, g.outW, g.channels].join(', ')}]`);
  }
  if (argmax.dtype !== 'u32') throw new Error(`max-pool backward: argmax must be u32, got ${argmax.dtype}`);
  const dx = Tensor.empty(dy.rt, inputShape);
  if (dx.size > 0) {
    const pixels = g.batch * g.inH * g.inW;   // one invocation each, walking its channels (in fours if it can)
    const w = widthFor(g.channels % 4 === 0);
    dy.rt.launch({
      shader: 'pool', entry: `max_backward${w.suffix}`, ...widthBindings(w, { dy: [dy, outSize], argmax: [argmax, outSize], dx: [dx, dx.size] }),
      uniforms: poolUniforms({ ...g, channels: g.channels / w.width }, pixels), invocations: pixels,
    });
  }
  return dx;
}

/** Channel tiling of the global average pool; the validation derives its rounding bound from it. */
export function globalAvgPoolPlan(inputShape: readonly number[]): { channelTile: number; channelTiles: number; rowLanes: number; chainLength: number } {
  const [, inH, inW, channels] = nhwc('global average pool', inputShape);
  const channelTiles = Math.max(1, Math.ceil(channels / 64));
  const channelTile = Math.max(1, Math.ceil(channels / channelTiles));
  const rowLanes = Math.floor(WG / channelTile);
  return { channelTile, channelTiles, rowLanes, chainLength: Math.ceil(inH * inW / rowLanes) + Math.ceil(Math.log2(rowLanes)) };
}

/** [N, H, W, C] -> [N, C], the mean over H*W. */
export function globalAvgPool(x: Tensor): Tensor {
  const [batch, inH, inW, channels] = nhwc('global average pool', x.shape);
  if (inH * inW === 0) throw new Error(`global average pool over an empty plane [${x.shape.join(', ')}]`);
  const plan = globalAvgPoolPlan(x.shape);
  const y = Tensor.empty(x.rt, [batch, channels]);
  if (y.size > 0) {
    x.rt.launch({
      shader: 'pool', entry: 'avg_forward', bindings: { x, y }, needs: { x: x.size, y: y.size },
      uniforms: poolUniforms({ batch, inH, inW, channels }, y.size, { channelTile: plan.channelTile, rowLanes: plan.rowLanes, scale: 1 / (inH * inW) }),
      workgroups: [plan.channelTiles, batch],
    });
  }
  return y;
}

/** dx[n, h, w, c] = dy[n, c] / (H * W). */
export function globalAvgPoolBackward(dy: Tensor, inputShape: readonly number[]): Tensor {
  const [batch, inH, inW, channels] = nhwc('global average pool backward', inputShape);
  if (dy.size !== batch * channels) throw new Error(`global average pool backward: dy [${dy.shape.join(', ')}] must be [${batch}, ${channels}]`);
  const dx = Tensor.empty(dy.rt, inputShape);
  if (dx.size > 0) {
    dy.rt.launch({
      shader: 'pool', entry: 'avg_backward', bindings: { dy, dx }, needs: { dy: dy.size, dx: dx.size },
      uniforms: poolUniforms({ batch, inH, inW, channels }, dx.size, { scale: 1 / (inH * inW) }), invocations: dx.size,
    });
  }
  return dx;
}
