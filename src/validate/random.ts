// Validation cases of the counter-based RNG (uniform and normal draws): each kernel against its float64 CPU reference, with a stated tolerance
// |got - ref| <= atol + rtol * |ref|. `saln validate` runs them on the user's adapter; kernels-test asserts them.
import { uniformArray, normalArray } from '../rng.ts';
import { define, HALF_ULP, take, type ValidationCase } from './define.ts';
import { randomNormal, randomUniform } from '../ops/random.ts';

export function rngCases(): ValidationCase[] {
  const cases: ValidationCase[] = [];
  for (const [n, seed, stream] of [[1, 0, 0], [3, 1, 0], [64, 42, 7], [1001, 2 ** 40 + 3, 5], [65539, 123456789, 2 ** 33]]) {
    cases.push(define('rng.uniform', `n=${n} seed=${seed} stream=${stream}`, async (rt) => ({
      got: await take(randomUniform(rt, [n], seed, stream)), ref: uniformArray(n, seed, stream), tolerance: { atol: 0, rtol: 0 },
    })));
    cases.push(define('rng.uniform', `n=${n} [-3, 5) seed=${seed}`, async (rt) => ({
      got: await take(randomUniform(rt, [n], seed, stream, -3, 5)), ref: uniformArray(n, seed, stream, -3, 5), tolerance: { atol: 8 * HALF_ULP, rtol: 2 * HALF_ULP },
    })));
    // Box-Muller through f32 log, sqrt, cos and sin: WGSL bounds cos/sin by 2^-11 absolute on [-pi, pi] and
    // r = sqrt(-2 ln u1) <= 5.8 for 24-bit u1, so |err| <= 5.8 * 2^-11 * std plus a few ULP.
    cases.push(define('rng.normal', `n=${n} seed=${seed} stream=${stream}`, async (rt) => ({
      got: await take(randomNormal(rt, [n], seed, stream, 0.5, 2)), ref: normalArray(n, seed, stream, 0.5, 2), tolerance: { atol: 5.8 * 2 ** -11 * 2, rtol: 1e-6 },
    })));
  }
  return cases;
}
