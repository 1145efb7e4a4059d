// float64 reference for the batched matmul (operands broadcast over the batch when their batch is 1).

export interface MatmulShape { M: number; N: number; K: number; batchA: number; batchB: number; transA?: boolean; transB?: boolean }

export function matmulReference(a: ArrayLike<number>, b: ArrayLike<number>, s: MatmulShape): Float64Array {
  const { M, N, K, batchA, batchB } = s;
  const batch = Math.max(batchA, batchB);
  const out = new Float64Array(batch * M * N);
  const aAt = (bi: number, m: number, k: number) => a[(batchA === 1 ? 0 : bi) * M * K + (s.transA ? k * M + m : m * K + k)];
  const bAt = (bi: number, k: number, n: number) => b[(batchB === 1 ? 0 : bi) * K * N + (s.transB ? n * K + k : k * N + n)];
  for (let bi = 0; bi < batch; bi++) {
    for (let m = 0; m < M; m++) {
      for (let k = 0; k < K; k++) {
        const av = aAt(bi, m, k);
        const row = bi * M * N + m * N;
        for (let n = 0; n < N; n++) out[row + n] += av * bAt(bi, k, n);
      }
    }
  }
  return out;
}
