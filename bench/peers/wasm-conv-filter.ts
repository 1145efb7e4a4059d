// TF.js's WASM backend ships no Conv2DBackpropFilter kernel, so any convnet training throws on it. For a fair
// training-step figure we give it one built only from its own kernels: im2col by pad + strided slices + concat,
// then one BatchMatMul of dy^T [Cout, M] by the patches [M, K] (a long-K GEMM) and a transpose of the small
// [Cout, K] result. Written as patches^T . dy instead, its BatchMatMul takes the transposeA path, measured 4x
// slower here (1.26 s against 0.35 s for batch 32, 32x32x64, 3x3x64x64).
import type * as TF from '@tensorflow/tfjs-core';

/** Registers the kernel when the WASM backend lacks it; returns whether it did. */
export function registerWasmConvFilterGrad(tf: typeof TF): boolean {
  if (tf.getKernel('Conv2DBackpropFilter', 'wasm')) return false;
  tf.registerKernel({
    kernelName: 'Conv2DBackpropFilter',
    backendName: 'wasm',
    kernelFunc: ({ inputs, attrs }) => {
      // The engine hands kernels the op's own tensors, and takes a Tensor back as the output as it is; ops
      // called inside a kernel are not recorded on the gradient tape.
      const { x, dy } = inputs as { x: TF.Tensor4D; dy: TF.Tensor4D };
      const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as TF.Conv2DBackpropFilterAttrs;
      if (dataFormat !== 'NHWC') throw new Error(`bench's Conv2DBackpropFilter for wasm handles NHWC only, got ${dataFormat}`);
      const info = tf.backend_util.computeConv2DInfo(x.shape, filterShape, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
      return conv2dFilterGrad(tf, x, dy, info);
    },
  });
  return true;
}

/** dW[kh, kw, ci, co] = sum over (n, oh, ow) of x[n, oh*s + kh - pad, ow*s + kw - pad, ci] * dy[n, oh, ow, co]. */
export function conv2dFilterGrad(tf: typeof TF, x: TF.Tensor4D, dy: TF.Tensor4D, info: TF.backend_util.Conv2DInfo): TF.Tensor4D {
  const { batchSize: N, inChannels: C, outChannels: Cout, outHeight: Ho, outWidth: Wo, filterHeight: KH, filterWidth: KW, strideHeight: sh, strideWidth: sw, padInfo } = info;
  return tf.tidy(() => {
    const padded = tf.pad(x, [[0, 0], [padInfo.top, padInfo.bottom], [padInfo.left, padInfo.right], [0, 0]]);
    const columns: TF.Tensor4D[] = [];
    for (let kh = 0; kh < KH; kh++) {
      for (let kw = 0; kw < KW; kw++) {
        columns.push(tf.stridedSlice(padded, [0, kh, kw, 0], [N, kh + (Ho - 1) * sh + 1, kw + (Wo - 1) * sw + 1, C], [1, sh, sw, 1]) as TF.Tensor4D);
      }
    }
    const rows = N * Ho * Wo;
    const patches = tf.reshape(columns.length === 1 ? columns[0] : tf.concat(columns, 3), [rows, KH * KW * C]);
    const dwT = tf.matMul(tf.transpose(tf.reshape(dy, [rows, Cout])), patches); // [Cout, KH*KW*C]
    return tf.reshape(tf.transpose(dwT), [KH, KW, C, Cout]) as TF.Tensor4D;
  });
}
