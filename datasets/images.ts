// The batch type every data set loads into (NHWC bytes with labels), and the two ways a run takes samples
// from it: a contiguous subset without copying, and a gathered batch ready to upload.

export interface LabelledImages {
  /** N*H*W*C bytes, NHWC. */
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
  height: number;
  width: number;
  channels: number;
  classes: string[];
}

/** Samples [start, start + count) of a set, without copying. */
export function subsetImages<T extends LabelledImages>(data: T, start: number, count: number): T {
  const pixels = data.height * data.width * data.channels;
  return { ...data, count, images: data.images.subarray(start * pixels, (start + count) * pixels), labels: data.labels.subarray(start, start + count) };
}

/** The bytes (NHWC) and labels of the samples `indices`, in that order: one batch, ready to upload. */
export function gatherImages(data: LabelledImages, indices: ArrayLike<number>): { bytes: Uint8Array; labels: Uint32Array } {
  const pixels = data.height * data.width * data.channels;
  const bytes = new Uint8Array(indices.length * pixels);
  const labels = new Uint32Array(indices.length);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k];
    bytes.set(data.images.subarray(i * pixels, (i + 1) * pixels), k * pixels);
    labels[k] = data.labels[i];
  }
  return { bytes, labels };
}
