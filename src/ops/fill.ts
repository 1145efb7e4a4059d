// Fill and copy (element ranges of f32 tensors).
import { Tensor } from '../tensor.ts';

export function fill(out: Tensor, value: number): Tensor {
  if (out.size === 0) return out;
  // Zero bits are +0.0 in every 4-byte dtype: the queue's own clear (a memset on lavapipe, 30x the kernel there).
  if (Object.is(value, 0)) {
    out.rt.commandEncoder().clearBuffer(out.buffer, out.byteOffset, out.size * 4);
    return out;
  }
  out.rt.launch({
    shader: 'fill', entry: 'fill', bindings: { dst: out }, needs: { dst: out.size },
    uniforms: { n: out.size, value, rowLen: 0 },
    elements: out.size,
  });
  return out;
}

export function full(rt: Tensor['rt'], shape: readonly number[], value: number): Tensor {
  return fill(Tensor.empty(rt, shape), value);
}

/** Copies `count` elements from src[srcOffset..] to dst[dstOffset..]; the whole tensor by default. */
export function copy(src: Tensor, dst: Tensor, count = src.size, srcOffset = 0, dstOffset = 0): Tensor {
  if (srcOffset + count > src.size || dstOffset + count > dst.size) {
    throw new Error(`copy of ${count} elements does not fit: source has ${src.size - srcOffset}, destination ${dst.size - dstOffset}`);
  }
  if (count === 0) return dst;
  // The queue's own copy (a memcpy on lavapipe). WebGPU binds no buffer both read-only and writable in one
  // dispatch, nor copies a buffer onto itself, so two windows of one buffer cannot be copied at all.
  if (src.buffer === dst.buffer) throw new Error('copy: source and destination share one GPU buffer; copy through a separate tensor');
  src.rt.commandEncoder().copyBufferToBuffer(src.buffer, src.byteOffset + srcOffset * 4, dst.buffer, dst.byteOffset + dstOffset * 4, count * 4);
  return dst;
}

export function clone(src: Tensor): Tensor {
  return copy(src, Tensor.empty(src.rt, src.shape, src.dtype));
}

/** Rows `indices` of `src` (first dimension), in that order: [indices.length, ...rest]. */
export function gatherRows(src: Tensor, indices: Tensor): Tensor {
  const rows = src.shape[0];
  const rowLen = src.size / Math.max(rows, 1);
  const out = Tensor.empty(src.rt, [indices.size, ...src.shape.slice(1)], src.dtype);
  if (out.size === 0) return out;
  if (indices.dtype !== 'u32') throw new Error(`gatherRows: indices must be u32, got ${indices.dtype}`);
  src.rt.launch({
    shader: 'fill', entry: 'gather_rows', bindings: { src, dst: out, rowIndex: indices },
    needs: { src: src.size, dst: out.size, rowIndex: indices.size },
    uniforms: { n: out.size, value: 0, rowLen },
    invocations: out.size,
  });
  return out;
}
