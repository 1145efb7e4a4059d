// Seeded random tensors on the GPU (twin: src/rng.ts).
import { Tensor } from '../tensor.ts';
import { splitWords } from '../rng.ts';

function draw(entry: 'uniform_f32' | 'normal_f32', rt: Tensor['rt'], shape: readonly number[], seed: number, stream: number, a: number, b: number): Tensor {
  const out = Tensor.empty(rt, shape);
  if (out.size === 0) return out;
  const [seedLo, seedHi] = splitWords(seed);
  const [streamLo, streamHi] = splitWords(stream);
  rt.launch({
    shader: 'rng', entry, bindings: { out }, needs: { out: out.size },
    uniforms: { n: out.size, seedLo, seedHi, streamLo, streamHi, a, b },
    invocations: Math.ceil(out.size / 4),
  });
  return out;
}

export function randomUniform(rt: Tensor['rt'], shape: readonly number[], seed: number, stream = 0, low = 0, high = 1): Tensor {
  return draw('uniform_f32', rt, shape, seed, stream, low, high);
}

export function randomNormal(rt: Tensor['rt'], shape: readonly number[], seed: number, stream = 0, mean = 0, std = 1): Tensor {
  return draw('normal_f32', rt, shape, seed, stream, mean, std);
}
