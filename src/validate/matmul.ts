// Validation cases of every matmul variant: each kernel against its float64 CPU reference, with a stated tolerance
// |got - ref| <= atol + rtol * |ref|. `saln validate` runs them on the user's adapter; kernels-test asserts them.
import { Tensor } from '../tensor.ts';
import { F32_EPS } from '../reference/compare.ts';
import { define, exactInts, inputs, take, type ValidationCase } from './define.ts';
import { matmul, MATMUL_VARIANTS, type MatmulVariant } from '../ops/matmul.ts';
import { matmulReference } from '../reference/matmul.ts';

interface MatmulCase { M: number; N: number; K: number; batchA?: number; batchB?: number; transA?: boolean; transB?: boolean; exact?: boolean }

export const MATMUL_CASES: MatmulCase[] = [
  { M: 1, N: 1, K: 1 }, { M: 3, N: 5, K: 7 }, { M: 17, N: 31, K: 13 }, { M: 64, N: 64, K: 64 },
  { M: 67, N: 129, K: 73 }, { M: 128, N: 96, K: 200 }, { M: 1, N: 257, K: 11 }, { M: 131, N: 1, K: 37 },
  { M: 33, N: 17, K: 29, batchA: 3, batchB: 3 }, { M: 20, N: 12, K: 8, batchA: 4, batchB: 1 },
  { M: 19, N: 23, K: 41, transA: true }, { M: 19, N: 23, K: 41, transB: true },
  { M: 45, N: 36, K: 27, transA: true, transB: true, batchA: 2, batchB: 2 },
  // Layouts that texture designs copy instead of packing (rows of 256-byte multiples).
  { M: 40, N: 64, K: 64, batchA: 2, batchB: 2 }, { M: 64, N: 128, K: 128, batchA: 3, batchB: 1 }, { M: 100, N: 64, K: 192 },
  // Exact (integers in [-3, 3], |c| <= 9K < 2^24): the K^2 eps bound is 4.4e-3 at K = 192, above a dropped product
  // of two small entries; these cases allow no error at all.
  { M: 67, N: 129, K: 73, exact: true }, { M: 100, N: 64, K: 192, exact: true },
  { M: 45, N: 36, K: 27, transA: true, transB: true, batchA: 2, batchB: 2, exact: true }, { M: 3, N: 5, K: 7, exact: true },
];

function matmulCase(variant: MatmulVariant, c: MatmulCase): ValidationCase {
  const { M, N, K, batchA = 1, batchB = 1, transA = false, transB = false, exact = false } = c;
  const label = `${batchA > 1 || batchB > 1 ? `${batchA}|${batchB} x ` : ''}${M}x${N}x${K}${transA ? ' A^T' : ''}${transB ? ' B^T' : ''}${exact ? ' exact ints' : ''}`;
  return define(`matmul.${variant}`, label, async (rt) => {
    const [a, b] = exact ? [exactInts(batchA * M * K), exactInts(batchB * K * N)] : [inputs(batchA * M * K), inputs(batchB * K * N)];
    const ta = Tensor.upload(rt, a, transA ? [batchA, K, M] : [batchA, M, K]);
    const tb = Tensor.upload(rt, b, transB ? [batchB, N, K] : [batchB, K, N]);
    const got = await take(matmul(ta, tb, { variant, transA, transB }));
    // Sequential accumulation over K: |err| <= K * eps * (|A||B|)_ij (Higham's gamma_K), and |a|,|b| <= 1.
    return { got, ref: matmulReference(a, b, { M, N, K, batchA, batchB, transA, transB }), tolerance: { atol: exact ? 0 : K * F32_EPS * K, rtol: 0 } };
  });
}

export function matmulCases(variants: readonly MatmulVariant[] = MATMUL_VARIANTS): ValidationCase[] {
  return variants.flatMap((v) => MATMUL_CASES.map((c) => matmulCase(v, c)));
}
