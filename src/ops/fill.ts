// Fill and copy (element ranges of f32 tensors).
import { Tensor } from '../tensor.ts';

export function fill(out: Tensor, value: number): Tensor {
  if (out.size === 0) return out;
  out.rt.launch({
    shader: 'fill', entry: 'fill', bindings: { dst: out }, needs: { dst: out.size },
    uniforms: { n: out.size, value, srcOffset: 0, dstOffset: 0 },
    workgroups: Math.ceil(out.size / 256),
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
  src.rt.launch({
    shader: 'fill', entry: 'copy', bindings: { src, dst },
    needs: { src: srcOffset + count, dst: dstOffset + count },
    uniforms: { n: count, value: 0, srcOffset, dstOffset },
    workgroups: Math.ceil(count / 256),
  });
  return dst;
}

export function clone(src: Tensor): Tensor {
  return copy(src, Tensor.empty(src.rt, src.shape, src.dtype));
}
